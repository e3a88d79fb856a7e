"""`kubeflow_runner.py` and `pipeline/kubeflow.py`: the KFP v2 spec the runner compiles and its flag checks.

No cluster here: the compiled YAML is parsed back into KFP's PipelineSpec protobuf (strictly)
and checked against `create_pipeline(config)`. The kfp calls for --host/--schedule are tested
in test_kfp_submission.py, the cron grammar in test_schedule.py.
"""

from __future__ import annotations

import pathlib
import shutil

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

import kubeflow_runner
from pipeline import kubeflow
from tests.script_runs import QUIET_TENSORFLOW, run_python

REPO = pathlib.Path(__file__).resolve().parent.parent
IMAGE = "registry.example/imbalanced-tfx:test"
PIPELINE_ROOT = "gs://test-bucket/tfx-root"
DATA_ROOT = "gs://test-bucket/prepared_data"
SERVING_DIR = "s3://serving-bucket/models"
BEAM_ARGS = ("--direct_running_mode=multi_processing", "--direct_num_workers=2")
MAX_EPOCHS = 3
BASE_FLAGS = (
    "--image",
    IMAGE,
    "--pipeline-root",
    PIPELINE_ROOT,
    "--data-root",
    DATA_ROOT,
    "--serving-model-dir",
    SERVING_DIR,
    *(f"--beam-arg={arg}" for arg in BEAM_ARGS),
    "--set",
    f"trainer.max_epochs={MAX_EPOCHS}",
)


@pytest.fixture(autouse=True)
def _no_pipeline_env(monkeypatch):
    for name in (
        kubeflow.ENV_IMAGE,
        kubeflow.ENV_PIPELINE_ROOT,
        kubeflow.ENV_DATA_ROOT,
        kubeflow.ENV_SERVING_MODEL_DIR,
        kubeflow.ENV_BEAM_ARGS,
    ):
        monkeypatch.delenv(name, raising=False)


def _compile(path: pathlib.Path, *extra: str) -> pathlib.Path:
    exit_code = kubeflow_runner.run([*BASE_FLAGS, "--output-file", str(path), *extra])
    assert exit_code == 0
    return path


def _parse_strict(path: pathlib.Path) -> pipeline_spec_pb2.PipelineSpec:
    """The YAML as KFP's PipelineSpec; an unknown field anywhere fails the parse."""
    document = yaml.safe_load(path.read_text())
    return json_format.ParseDict(document, pipeline_spec_pb2.PipelineSpec())


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> pathlib.Path:
    return _compile(tmp_path_factory.mktemp("kfp") / "pipeline.yaml")


@pytest.fixture(scope="module")
def dsl_pipeline():
    """What `create_pipeline` builds for the same flags: the expected task set comes from here."""
    from pipeline.pipeline import create_pipeline

    args = kubeflow_runner.parse_args(list(BASE_FLAGS))
    return create_pipeline(kubeflow.build_config(args, environ={}))


def _expected_tasks(dsl_pipeline, baseline: str) -> set:
    from tfx.dsl.components.common import resolver

    from pipeline.pipeline import BASELINE_RESOLVER

    expected = set()
    for node in dsl_pipeline.components:
        if not isinstance(node, resolver.Resolver):
            expected.add(node.id)
        elif node.id == BASELINE_RESOLVER and baseline == "latest-blessed":
            expected |= {f"{node.id}-model-blessing-resolver", f"{node.id}-model-resolver"}
    return expected


def _deployment(spec: pipeline_spec_pb2.PipelineSpec) -> pipeline_spec_pb2.PipelineDeploymentConfig:
    """The spec's deployment section (a Struct in PipelineSpec), parsed strictly into its own message."""
    return json_format.ParseDict(
        json_format.MessageToDict(spec.deployment_spec), pipeline_spec_pb2.PipelineDeploymentConfig()
    )


def _containers(spec: pipeline_spec_pb2.PipelineSpec) -> dict:
    return {
        label: executor.container
        for label, executor in _deployment(spec).executors.items()
        if executor.HasField("container")
    }


def _resolver_executors(spec: pipeline_spec_pb2.PipelineSpec) -> list:
    return [executor.resolver for executor in _deployment(spec).executors.values() if executor.HasField("resolver")]


def _task_parameter(spec: pipeline_spec_pb2.PipelineSpec, task: str, name: str) -> str:
    return spec.root.dag.tasks[task].inputs.parameters[name].runtime_value.constant_value.string_value


def test_every_component_is_a_task_with_the_image_and_beam_args(compiled, dsl_pipeline):
    spec = _parse_strict(compiled)
    assert set(spec.root.dag.tasks) == _expected_tasks(dsl_pipeline, "latest-blessed")
    containers = _containers(spec)
    component_tasks = [node.id for node in dsl_pipeline.components if node.id in spec.root.dag.tasks]
    for task_id in component_tasks:
        executor_label = spec.components[spec.root.dag.tasks[task_id].component_ref.name].executor_label
        container = containers[executor_label]
        assert container.image == IMAGE, task_id
        args = list(container.args)
        # The Beam args once, in order (not repeated by the resolver rewiring).
        starts = [i for i in range(len(args)) if tuple(args[i : i + len(BEAM_ARGS)]) == BEAM_ARGS]
        assert len(starts) == 1, (task_id, args)
        assert sum(arg.startswith("--direct_num_workers") for arg in args) == 1, (task_id, args)
    assert spec.pipeline_info.name == kubeflow_runner.DEFAULT_PIPELINE_NAME


def test_paths_and_settings_reach_the_spec(compiled):
    from pipeline import pipeline as pipeline_module

    spec = _parse_strict(compiled)
    assert spec.default_pipeline_root == PIPELINE_ROOT
    assert _task_parameter(spec, pipeline_module.EXAMPLE_GEN, "input_base") == DATA_ROOT
    # The default: the --dataset description's reviewed schema, where the Dockerfile copies the repo.
    expected_schema = f"{kubeflow.IMAGE_REPO_ROOT}/schema/creditcard/schema.pbtxt"
    assert _task_parameter(spec, pipeline_module.SCHEMA_GEN, "schema_file") == expected_schema
    assert SERVING_DIR in _task_parameter(spec, pipeline_module.PUSHER, "push_destination")
    assert f'"max_epochs": {MAX_EPOCHS}' in _task_parameter(spec, pipeline_module.TRAINER, "custom_config")
    # The Pusher runs only on a positive blessing.
    condition = spec.root.dag.tasks[pipeline_module.PUSHER].trigger_policy.condition
    assert "blessed" in condition and "== 1" in condition


def test_kubeflow_config_compiles_only_resolvers_kfp_can_run(compiled):
    from pipeline import pipeline as pipeline_module

    spec = _parse_strict(compiled)
    tasks = spec.root.dag.tasks
    # ClassSkew keeps balance and skew but loses the previous span's statistics (no KFP query for it).
    assert "previous_statistics" not in tasks[pipeline_module.CLASS_SKEW].inputs.artifacts
    assert pipeline_module.PREVIOUS_STATISTICS not in tasks
    # The Evaluator's baseline comes from TFX's latest-blessed-model queries.
    baseline = tasks[pipeline_module.EVALUATOR].inputs.artifacts["baseline_model"].task_output_artifact
    assert baseline.producer_task == f"{pipeline_module.BASELINE_RESOLVER}-model-resolver"
    resolver_filters = [str(resolver) for resolver in _resolver_executors(spec)]
    assert len(resolver_filters) == 2
    assert any("metadata.blessed.number_value=1" in text for text in resolver_filters)


def test_compile_is_deterministic(compiled, tmp_path):
    again = _compile(tmp_path / "again.yaml")
    assert again.read_bytes() == compiled.read_bytes()


def test_baseline_none_compiles_no_resolver_task(tmp_path, dsl_pipeline):
    from pipeline import pipeline as pipeline_module

    spec = _parse_strict(_compile(tmp_path / "no_baseline.yaml", "--baseline", "none"))
    assert set(spec.root.dag.tasks) == _expected_tasks(dsl_pipeline, "none")
    assert _resolver_executors(spec) == []
    assert "baseline_model" not in spec.root.dag.tasks[pipeline_module.EVALUATOR].inputs.artifacts


def test_a_refused_setting_keeps_the_previous_spec(compiled, tmp_path, capsys):
    target = tmp_path / "kept.yaml"
    target.write_bytes(compiled.read_bytes())
    exit_code = kubeflow_runner.run([*BASE_FLAGS, "--output-file", str(target), "--set", "trainer.max_epochs=0"])
    assert exit_code == 2
    assert "trainer.max_epochs must be >= 1" in capsys.readouterr().err
    assert target.read_bytes() == compiled.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.yaml"]


# ----------------------------------------------------------------------------- flag errors


def _error_line(argv, capsys) -> str:
    exit_code = kubeflow_runner.run(argv)
    err = capsys.readouterr().err
    assert exit_code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    return lines[0]


def _flags_without(*names: str) -> list:
    flags, skip = [], False
    for item in BASE_FLAGS:
        if skip:
            skip = False
            continue
        if item in names:
            skip = True
            continue
        flags.append(item)
    return flags


@pytest.mark.parametrize(
    ("flags", "fragments"),
    [
        (_flags_without("--image"), ("--image (or $PIPELINE_IMAGE) is required", "Dockerfile")),
        (_flags_without("--pipeline-root"), ("--pipeline-root (or $PIPELINE_ROOT) is required",)),
        (_flags_without("--data-root"), ("--data-root (or $PIPELINE_DATA_ROOT) is required",)),
        (
            _flags_without("--pipeline-root") + ["--pipeline-root", "/srv/tfx-root"],
            ("'/srv/tfx-root' is not a URI", "gs://BUCKET/PATH"),
        ),
        (
            _flags_without("--pipeline-root") + ["--pipeline-root", "relative/root"],
            ("'relative/root' is not a URI",),
        ),
        (
            _flags_without("--pipeline-root") + ["--pipeline-root", "minio://mlpipeline/root"],
            ("uses minio://", "s3:// with S3_ENDPOINT"),
        ),
        (
            _flags_without("--data-root") + ["--data-root", "ftp://host/data"],
            ("--data-root", "uses ftp://"),
        ),
        (
            _flags_without("--serving-model-dir") + ["--serving-model-dir", "/models"],
            ("--serving-model-dir", "'/models' is not a URI"),
        ),
        ([*BASE_FLAGS, "--schema-path", "schema/schema.pbtxt"], ("--schema-path", "is not a URI")),
        ([*BASE_FLAGS, "--pipeline-name", "Fraud_Pipeline"], ("--pipeline-name 'Fraud_Pipeline'", "lowercase")),
        ([*BASE_FLAGS, "--output-file", "spec.json"], ("--output-file", "must end with .yaml or .yml")),
        ([*BASE_FLAGS, "--schedule", "0 3 * * *"], ("--schedule needs --host",)),
        ([*BASE_FLAGS, "--host", "http://localhost:8080"], ("resolver executors not implemented", "--baseline none")),
        ([*BASE_FLAGS, "--baseline", "none", "--host", "localhost:8080"], ("--host 'localhost:8080'", "http://")),
        (
            [*BASE_FLAGS, "--baseline", "none", "--host", "http://h:8080", "--schedule", "0 3 * *"],
            ("has 4 fields", "give 5"),
        ),
        ([*BASE_FLAGS, "--set", "metadata_path=/tmp/m.sqlite"], ("--set metadata_path", "Kubeflow provides")),
        ([*BASE_FLAGS, "--set", "trainer.no_such=1"], ("unknown setting 'trainer.no_such'",)),
    ],
)
def test_bad_flags_give_one_clear_line_and_write_nothing(flags, fragments, tmp_path, capsys):
    target = tmp_path / "spec.yaml"
    argv = list(flags) if "--output-file" in flags else [*flags, "--output-file", str(target)]
    line = _error_line(argv, capsys)
    for fragment in fragments:
        assert fragment in line, line
    assert not target.exists()


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv(kubeflow.ENV_IMAGE, IMAGE)
    monkeypatch.setenv(kubeflow.ENV_PIPELINE_ROOT, "s3://b/root/")
    monkeypatch.setenv(kubeflow.ENV_DATA_ROOT, DATA_ROOT)
    args = kubeflow_runner.parse_args([])
    assert args.image == IMAGE
    config = kubeflow.build_config(args, environ={kubeflow.ENV_BEAM_ARGS: "--runner=FlinkRunner  --a='x y'"})
    assert config.pipeline_root == "s3://b/root"
    assert config.serving_model_dir == "s3://b/root/serving_model"
    assert config.metadata_path is None
    assert config.beam_pipeline_args == ("--runner=FlinkRunner", "--a=x y")
    # Flags win over the environment; no flag and no env: the in-pod DirectRunner defaults.
    assert kubeflow.beam_args_from(["--x"], {kubeflow.ENV_BEAM_ARGS: "--y"}) == ("--x",)
    assert kubeflow.beam_args_from(None, {}) == kubeflow.DEFAULT_BEAM_ARGS


def test_help_explains_each_flag_and_errors_come_before_tensorflow():
    def run(*args):
        return run_python(
            str(REPO / "kubeflow_runner.py"), *args, timeout=120, env={"PATH": "/usr/bin:/bin", **QUIET_TENSORFLOW}
        )

    help_result = run("--help")
    assert help_result.returncode == 0
    for flag in (
        "--image",
        "--pipeline-root",
        "--data-root",
        "--serving-model-dir",
        "--schema-path",
        "--beam-arg",
        "--set",
        "--baseline",
        "--output-file",
        "--host",
        "--schedule",
        "--experiment",
        "--namespace",
    ):
        assert flag in help_result.stdout
    assert "PIPELINE_IMAGE" in help_result.stdout and "6-field" in help_result.stdout

    error_result = run("--pipeline-root", PIPELINE_ROOT, "--data-root", DATA_ROOT)
    assert error_result.returncode == 2
    assert error_result.stderr.strip().splitlines() == [
        "error: --image (or $PIPELINE_IMAGE) is required: the container image built from this repo's Dockerfile, "
        "pushed where the cluster can pull it"
    ]


def test_custom_artifact_type_names_must_be_namespaced_for_kfp():
    from tfx import v1 as tfx
    from tfx.types.artifact import Artifact

    class PlainName(Artifact):
        TYPE_NAME = "PlainNameReport"

    class Namespaced(Artifact):
        TYPE_NAME = "imbalanced.NamespacedReport"

    def pipeline_importing(artifact_type):
        importer = tfx.dsl.Importer(source_uri="gs://b/report", artifact_type=artifact_type).with_id("import_report")
        return tfx.dsl.Pipeline(pipeline_name="names", pipeline_root=PIPELINE_ROOT, components=[importer])

    kubeflow.check_artifact_type_names(pipeline_importing(Namespaced))
    with pytest.raises(kubeflow.NotCompilableError) as raised:
        kubeflow.check_artifact_type_names(pipeline_importing(PlainName))
    message = str(raised.value)
    assert "import_report.result" in message and "'PlainNameReport'" in message
    assert "'imbalanced.PlainNameReport'" in message


def test_the_description_settings_reach_the_compiled_config_and_set_wins(tmp_path):
    shutil.copy(REPO / "schema" / "creditcard" / "schema.pbtxt", tmp_path / "schema.pbtxt")
    tree = yaml.safe_load((REPO / "schema" / "creditcard" / "dataset.yaml").read_text())
    tree["settings"] = {"trainer": {"model": "rf", "max_epochs": 3}, "evaluator": {"min_recall": 0.6}}
    (tmp_path / "dataset.yaml").write_text(yaml.safe_dump(tree))
    args = kubeflow_runner.parse_args([*BASE_FLAGS, "--dataset", str(tmp_path / "dataset.yaml")])
    config = kubeflow.build_config(args, environ={})
    assert (config.trainer.model, config.evaluator.min_recall) == ("rf", 0.6)
    assert config.trainer.max_epochs == MAX_EPOCHS, "BASE_FLAGS' --set trainer.max_epochs wins over the description"
