# The image every Kubeflow step runs in: TFX 1.16 plus this repo's pipeline and components.
#
#   docker build -t REGISTRY/imbalanced-tfx:0.1.0 .
#   docker push REGISTRY/imbalanced-tfx:0.1.0
#   python kubeflow_runner.py --image REGISTRY/imbalanced-tfx:0.1.0 ...
#
# The base image already has every runtime dependency (tfx 1.16.0 with TensorFlow 2.16,
# tf-keras via tensorflow-transform, TFMA 0.47, TFDV 1.16, Beam, scikit-learn 1.5.1 for
# SMOTE), so the package is installed with --no-deps and the build checks those versions.
FROM tensorflow/tfx:1.16.0

# TFX 1.16 needs Keras 2 (tf-keras): set before any step imports TensorFlow.
ENV TF_USE_LEGACY_KERAS=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /pipeline
COPY . /pipeline

# The Trainer's run_fn ("components.trainer.model.run_fn") and the custom executors are
# imported by dotted path inside the container: they must be installed, not just copied.
# The check runs from / so it imports the installed package, not the copied sources.
RUN python -m pip install --no-deps /pipeline \
    && cd / && python -c "import tfx, tf_keras, sklearn, tensorflow_model_analysis as tfma; \
assert tfx.__version__ == '1.16.0', tfx.__version__; \
assert tf_keras.__version__.startswith('2.16'), tf_keras.__version__; \
import components.trainer.model, components.transform.preprocessing, components.class_skew.executor, components.rebalance.executor, components.blessing_gate.executor; \
print('tfx', tfx.__version__, 'tf-keras', tf_keras.__version__, 'tfma', tfma.__version__, 'sklearn', sklearn.__version__)" \
    && test -f /pipeline/schema/creditcard/schema.pbtxt

# The compiled spec sets each step's command (`python -m
# tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor`), so KFP does not use the
# base image's entrypoint; Dataflow workers can still use this image as their SDK container.
