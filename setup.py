"""Installs the pipeline and its components as a package (the Kubeflow image installs it too)."""

import setuptools

setuptools.setup(
    name="imbalanced-tfx-pipeline",
    version="0.1.0",
    description="A TFX pipeline that trains and ships classifiers on badly imbalanced data",
    python_requires=">=3.10,<3.11",
    packages=setuptools.find_packages(include=["pipeline", "pipeline.*", "components", "components.*"]),
    package_data={"components": ["*/testdata/*"]},
    data_files=[
        (f"schema/{name}", [f"schema/{name}/dataset.yaml", f"schema/{name}/schema.pbtxt"]) for name in ("creditcard",)
    ],
    install_requires=["tfx[kfp]==1.16.0", "tf-keras==2.16.0", "tensorflow-model-analysis==0.47.1"],
)
