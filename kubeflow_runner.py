"""Compiles the pipeline for Kubeflow Pipelines (KFP v2) and, optionally, submits or schedules it.

    python kubeflow_runner.py --image REGISTRY/imbalanced-tfx:TAG \\
        --pipeline-root gs://BUCKET/tfx-root --data-root gs://BUCKET/prepared_data
    python kubeflow_runner.py ... --host http://localhost:8080 --baseline none                  # one run now
    python kubeflow_runner.py ... --host http://localhost:8080 --baseline none --schedule "0 3 * * *"  # nightly

The same `create_pipeline(config)` as `local_runner.py`, compiled by TFX's KubeflowV2DagRunner
into a KFP v2 pipeline spec (YAML). What differs on Kubeflow:
- every path is a URI the pods can reach (gs:// or s3://), and the schema is read inside the image;
- there is no SQLite file: the cluster's ML Metadata store is used (`metadata_path` stays None);
- KFP v2 runs no Python resolver code, so the config asks `create_pipeline` for TFX's
  LatestBlessedModelStrategy baseline (or none) and no span-drift resolver.
"""

from __future__ import annotations

import os

# TFX 1.16 needs Keras 2 (tf-keras); this must be set before TensorFlow is imported.
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import pathlib  # noqa: E402
import re  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple  # noqa: E402

from pipeline.config import ConfigError, PipelineConfig  # noqa: E402
from pipeline.errors import UserInputError  # noqa: E402
from pipeline.overrides import add_config_flags, apply_overrides  # noqa: E402

REPO_ROOT = pathlib.Path(__file__).resolve().parent
DEFAULT_PIPELINE_NAME = "imbalanced-fraud"
# Where the Dockerfile copies the repository inside the image.
IMAGE_REPO_ROOT = "/pipeline"
DEFAULT_SCHEMA_PATH = f"{IMAGE_REPO_ROOT}/schema/schema.pbtxt"
# In a pod: DirectRunner on every core the pod has (0 = as many workers as CPUs).
DEFAULT_BEAM_ARGS = ("--direct_running_mode=multi_processing", "--direct_num_workers=0")
# Schemes that TFX's file I/O (tf.io.gfile) can read and write from a pod: gs:// natively,
# s3:// through tensorflow-io's S3 filesystem (also for MinIO, with S3_ENDPOINT set).
STORAGE_SCHEMES = ("gs", "s3")
# --baseline value -> PipelineConfig.baseline. KFP v2 compiles only TFX's own resolver strategies.
BASELINE_CHOICES = {"latest-blessed": "last_blessed", "none": "none"}
# KFP v2 pipeline names (pipelineInfo.name) and so TFX pipeline names here.
_PIPELINE_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,127}$")

# Environment variables read when the flag is absent.
ENV_IMAGE = "PIPELINE_IMAGE"
ENV_PIPELINE_ROOT = "PIPELINE_ROOT"
ENV_DATA_ROOT = "PIPELINE_DATA_ROOT"
ENV_SERVING_MODEL_DIR = "PIPELINE_SERVING_MODEL_DIR"
ENV_BEAM_ARGS = "PIPELINE_BEAM_ARGS"

CREATE_RUN = "create_run_from_pipeline_package"
CREATE_RECURRING_RUN = "create_recurring_run"


class KubeflowUsageError(UserInputError):
    """A flag or environment value the Kubeflow runner cannot use, with what to do instead."""


class NotCompilableError(ValueError):
    """The pipeline's code uses something KFP v2 cannot express; the message names the node and the fix."""


# ----------------------------------------------------------------------------- flags


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Compile the imbalanced-data TFX pipeline into a Kubeflow Pipelines (KFP v2) spec, "
        "and optionally submit it as a run or a recurring run.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--image",
        default=os.environ.get(ENV_IMAGE),
        help=f"container image every component runs in, built from this repo's Dockerfile and pushed to a registry "
        f"the cluster can pull from, e.g. gcr.io/PROJECT/imbalanced-tfx:0.1.0 (env {ENV_IMAGE}; required)",
    )
    parser.add_argument(
        "--pipeline-root",
        default=os.environ.get(ENV_PIPELINE_ROOT),
        help="where the components write their artifacts: a gs:// or s3:// URI the pods can write "
        f"(local paths are refused: the pods do not share this disk) (env {ENV_PIPELINE_ROOT}; required)",
    )
    parser.add_argument(
        "--data-root",
        default=os.environ.get(ENV_DATA_ROOT),
        help="folder (gs:// or s3://) holding the prepared CSV(s) ExampleGen reads: run local_runner.py once "
        "and upload outputs/prepared_data/, or upload the clean CSV that pipeline/data.py writes "
        f"(env {ENV_DATA_ROOT}; required)",
    )
    parser.add_argument(
        "--serving-model-dir",
        default=os.environ.get(ENV_SERVING_MODEL_DIR),
        help=f"where the Pusher copies blessed models (gs:// or s3://) (env {ENV_SERVING_MODEL_DIR}; "
        "default: PIPELINE_ROOT/serving_model)",
    )
    parser.add_argument(
        "--schema-path",
        default=DEFAULT_SCHEMA_PATH,
        help="the schema file as the pods see it: the Dockerfile copies the repo to /pipeline, "
        "or give a gs:// / s3:// URI",
    )
    parser.add_argument("--pipeline-name", default=DEFAULT_PIPELINE_NAME, help="KFP pipeline name (a-z, 0-9, -)")
    add_config_flags(
        parser,
        beam_arg_help="a Beam pipeline argument for every Beam component, repeatable, e.g. "
        "--beam-arg=--runner=DataflowRunner --beam-arg=--project=P --beam-arg=--region=R "
        f"--beam-arg=--temp_location=gs://B/tmp (env {ENV_BEAM_ARGS}, space-separated; default: "
        f"{' '.join(DEFAULT_BEAM_ARGS)})",
        set_examples="--set trainer.max_epochs=5",
    )
    parser.add_argument(
        "--baseline",
        choices=BASELINE_CHOICES,
        default="latest-blessed",
        help="the Evaluator's baseline model: 'latest-blessed' compiles TFX's latest-blessed-model resolver (an "
        "ML Metadata query that Vertex AI Pipelines runs); 'none' compiles no resolver, so the Evaluator gates on "
        "absolute thresholds only; open-source KFP runs no resolver tasks, so --host needs 'none'",
    )
    parser.add_argument("--no-cache", action="store_true", help="turn off KFP's step cache for every component")
    parser.add_argument(
        "--output-file",
        help="where to write the compiled KFP v2 pipeline spec (.yaml or .yml) "
        "(default: outputs/kubeflow/PIPELINE_NAME.yaml in this repo)",
    )
    parser.add_argument(
        "--host",
        help="a Kubeflow Pipelines endpoint, e.g. http://localhost:8080 after "
        "`kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8080:80`: submit the compiled spec there",
    )
    parser.add_argument(
        "--schedule",
        metavar="CRON",
        help="with --host: create a recurring run instead of one run. Standard 5-field cron "
        "('MIN HOUR DOM MON DOW', e.g. '0 3 * * *') or KFP's 6-field cron with seconds first "
        "('SEC MIN HOUR DOM MON DOW'); 5 fields get second 0. Runs never overlap (max concurrency 1) "
        "and missed runs are not back-filled",
    )
    parser.add_argument("--experiment", help="KFP experiment for the run (default: the pipeline name)")
    parser.add_argument("--namespace", help="Kubernetes namespace of a multi-user Kubeflow (default: kfp's)")
    return parser.parse_args(argv)


def _require_storage_uri(flag: str, value: Optional[str], env: Optional[str] = None) -> str:
    """A gs:// or s3:// URI, or a KubeflowUsageError that says why a pod could not use `value`."""
    where = f"{flag}" + (f" (or ${env})" if env else "")
    if not value:
        raise KubeflowUsageError(f"{where} is required: a gs://BUCKET/PATH or s3://BUCKET/PATH the pods can reach")
    match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://([^/]+)(/.*)?$", value)
    if not match:
        raise KubeflowUsageError(
            f"{where} {value!r} is not a URI: pods on the cluster cannot see this machine's files; "
            "give a gs://BUCKET/PATH or s3://BUCKET/PATH"
        )
    scheme = match.group(1).lower()
    if scheme not in STORAGE_SCHEMES:
        hint = " (for MinIO use s3:// with S3_ENDPOINT pointing at it)" if scheme == "minio" else ""
        raise KubeflowUsageError(
            f"{where} {value!r} uses {scheme}://, which TFX's file I/O cannot open in a pod{hint}; "
            "give a gs://BUCKET/PATH or s3://BUCKET/PATH"
        )
    return value.rstrip("/")


def _require_schema_path(value: str) -> str:
    if value.startswith("/"):
        return value
    return _require_storage_uri("--schema-path", value)


def beam_args_from(flag_values: Optional[Sequence[str]], environ: Mapping[str, str]) -> Tuple[str, ...]:
    """--beam-arg values, else $PIPELINE_BEAM_ARGS split like a shell, else the defaults."""
    if flag_values:
        return tuple(flag_values)
    from_env = environ.get(ENV_BEAM_ARGS, "").strip()
    if from_env:
        return tuple(shlex.split(from_env))
    return DEFAULT_BEAM_ARGS


def build_config(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> PipelineConfig:
    """The PipelineConfig for Kubeflow: URIs only, no SQLite metadata file."""
    if not args.image:
        raise KubeflowUsageError(
            f"--image (or ${ENV_IMAGE}) is required: the container image built from this repo's Dockerfile, "
            "pushed where the cluster can pull it"
        )
    if not _PIPELINE_NAME_PATTERN.match(args.pipeline_name):
        raise KubeflowUsageError(
            f"--pipeline-name {args.pipeline_name!r}: KFP needs lowercase letters, digits and '-', "
            "starting with a letter or digit"
        )
    pipeline_root = _require_storage_uri("--pipeline-root", args.pipeline_root, ENV_PIPELINE_ROOT)
    data_root = _require_storage_uri("--data-root", args.data_root, ENV_DATA_ROOT)
    serving_model_dir = _require_storage_uri(
        "--serving-model-dir", args.serving_model_dir or f"{pipeline_root}/serving_model", ENV_SERVING_MODEL_DIR
    )
    config = PipelineConfig(
        pipeline_name=args.pipeline_name,
        pipeline_root=pipeline_root,
        data_root=data_root,
        serving_model_dir=serving_model_dir,
        schema_path=_require_schema_path(args.schema_path),
        metadata_path=None,
        beam_pipeline_args=beam_args_from(args.beam_args, environ),
        enable_cache=not args.no_cache,
        baseline=BASELINE_CHOICES[args.baseline],
        # Drift between spans needs a Python resolver, which KFP v2 cannot run.
        span_drift=False,
    )
    config = apply_overrides(config, args.overrides)
    if config.metadata_path is not None:
        raise KubeflowUsageError("--set metadata_path: Kubeflow provides the ML Metadata store; leave it unset")
    return config


def output_file_for(args: argparse.Namespace) -> pathlib.Path:
    path = pathlib.Path(args.output_file or REPO_ROOT / "outputs" / "kubeflow" / f"{args.pipeline_name}.yaml")
    if path.suffix not in (".yaml", ".yml"):
        raise KubeflowUsageError(f"--output-file {str(path)!r} must end with .yaml or .yml (a KFP v2 pipeline spec)")
    if path.exists() and path.is_dir():
        raise KubeflowUsageError(f"--output-file {str(path)!r} is a folder; name a .yaml file")
    return path.resolve()


# ----------------------------------------------------------------------------- cron


_CRON_FIELDS = (  # (name, lowest, highest, names allowed)
    ("second", 0, 59, ()),
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")),
    ("day of week", 0, 6, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")),
)


def _check_cron_value(text: str, field: Tuple[str, int, int, Tuple[str, ...]], expression: str) -> None:
    name, lowest, highest, names = field
    if text.upper() in names:
        return
    if not text.isdigit() or not lowest <= int(text) <= highest:
        raise KubeflowUsageError(
            f"--schedule {expression!r}: {name} value {text!r} must be {lowest}-{highest}"
            + (f" or one of {','.join(names)}" if names else "")
        )


def _check_cron_field(text: str, field: Tuple[str, int, int, Tuple[str, ...]], expression: str) -> None:
    name = field[0]
    for part in text.split(","):
        base, _, step = part.partition("/")
        if step and (not step.isdigit() or int(step) == 0):
            raise KubeflowUsageError(f"--schedule {expression!r}: {name} step {step!r} must be a positive number")
        if base in ("*", "?"):
            if base == "?" and name not in ("day of month", "day of week"):
                raise KubeflowUsageError(f"--schedule {expression!r}: '?' is only allowed for the day fields")
            continue
        bounds = base.split("-")
        if len(bounds) > 2 or not all(bounds):
            raise KubeflowUsageError(f"--schedule {expression!r}: cannot read {name} {part!r}")
        for bound in bounds:
            _check_cron_value(bound, field, expression)


def kfp_cron(expression: str) -> str:
    """The 6-field cron (seconds first) that KFP's scheduler wants; 5-field crontab lines get second 0."""
    fields = expression.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6:
        raise KubeflowUsageError(
            f"--schedule {expression!r} has {len(expression.split())} fields; give 5 ('MIN HOUR DOM MON DOW', "
            "e.g. '0 3 * * *') or KFP's 6 with seconds first ('SEC MIN HOUR DOM MON DOW')"
        )
    for text, field in zip(fields, _CRON_FIELDS, strict=True):
        _check_cron_field(text, field, expression)
    return " ".join(fields)


# ----------------------------------------------------------------------------- submission


@dataclasses.dataclass(frozen=True)
class Submission:
    """Everything the kfp Client calls need, computed before any network call."""

    client_kwargs: Dict[str, Any]
    experiment_name: str
    namespace: Optional[str]
    method: str  # CREATE_RUN or CREATE_RECURRING_RUN
    method_kwargs: Dict[str, Any]


def plan_submission(args: argparse.Namespace, spec_path: pathlib.Path, config: PipelineConfig) -> Optional[Submission]:
    """The kfp Client calls for --host/--schedule, or None when only compiling. Pure: no network."""
    if args.schedule and not args.host:
        raise KubeflowUsageError("--schedule needs --host: the recurring run is created on a KFP endpoint")
    if not args.host:
        return None
    if not re.match(r"^https?://[^/\s]+", args.host):
        raise KubeflowUsageError(f"--host {args.host!r} must be an http:// or https:// URL of the KFP endpoint")
    if args.baseline != "none":
        raise KubeflowUsageError(
            "--host submits to open-source Kubeflow Pipelines, whose v2 backend does not run resolver tasks "
            "(it fails with 'resolver executors not implemented'); add --baseline none, or run the compiled "
            "spec on Vertex AI Pipelines"
        )
    experiment = args.experiment or config.pipeline_name
    common = {
        "pipeline_root": config.pipeline_root,
        "enable_caching": config.enable_cache,
    }
    if args.schedule:
        cron = kfp_cron(args.schedule)
        method_kwargs = {
            "job_name": f"{config.pipeline_name}-retrain",
            "description": f"Retrain {config.pipeline_name} on the data in {config.data_root} ({cron})",
            "cron_expression": cron,
            "max_concurrency": 1,
            "no_catchup": True,
            "pipeline_package_path": str(spec_path),
            **common,
        }
        method = CREATE_RECURRING_RUN
    else:
        method_kwargs = {
            "pipeline_file": str(spec_path),
            "arguments": {},
            "experiment_name": experiment,
            "namespace": args.namespace,
            **common,
        }
        method = CREATE_RUN
    return Submission(
        client_kwargs={"host": args.host, "namespace": args.namespace} if args.namespace else {"host": args.host},
        experiment_name=experiment,
        namespace=args.namespace,
        method=method,
        method_kwargs=method_kwargs,
    )


def submit(submission: Submission) -> str:
    """Carries out `submission` against the KFP endpoint; returns what was created, for the log."""
    import kfp  # noqa: PLC0415 (only when submitting)

    client = kfp.Client(**submission.client_kwargs)
    if submission.method == CREATE_RUN:
        result = client.create_run_from_pipeline_package(**submission.method_kwargs)
        return f"run {result.run_id}"
    experiment = client.create_experiment(name=submission.experiment_name, namespace=submission.namespace)
    recurring = client.create_recurring_run(experiment_id=experiment.experiment_id, **submission.method_kwargs)
    return f"recurring run {recurring.recurring_run_id} ({submission.method_kwargs['cron_expression']})"


# ----------------------------------------------------------------------------- compilation


# KFP v2 schema titles of custom artifact types (TFX 1.16 compiler_utils checks the same form).
_ARTIFACT_TYPE_NAME = re.compile(r"^[a-z][a-z0-9-_]{2,20}[.][A-Z][a-zA-Z0-9-_]{2,49}$")


def check_artifact_type_names(pipeline: Any) -> None:
    """Fails with the class to change when a custom artifact type has a name KFP v2 cannot carry."""
    from tfx.types import standard_artifacts  # noqa: PLC0415

    standard = {
        value.TYPE_NAME
        for value in vars(standard_artifacts).values()
        if isinstance(value, type) and hasattr(value, "TYPE_NAME")
    }
    for node in pipeline.components:
        for key, channel in (*node.inputs.items(), *node.outputs.items()):
            name = channel.type.TYPE_NAME
            if name in standard or _ARTIFACT_TYPE_NAME.match(name):
                continue
            raise NotCompilableError(
                f"{node.id}.{key}: artifact type {name!r} ({channel.type.__module__}.{channel.type.__qualname__}) "
                f"cannot be compiled for KFP v2: its TYPE_NAME must look like 'namespace.TypeName', "
                f"e.g. 'imbalanced.{name}'"
            )


def compile_pipeline(config: PipelineConfig, image: str, output_file: pathlib.Path) -> Dict[str, Any]:
    """Compiles `create_pipeline(config)` into a KFP v2 PipelineSpec YAML at `output_file`; returns the spec.

    TFX 1.16 writes YAML for a .yaml name, holding only the PipelineSpec: the run's
    pipeline root (PipelineJob.runtimeConfig in its JSON form) would be lost, so it is
    kept as the spec's `defaultPipelineRoot`. Written to a temp file and moved into
    place, so a failed compile leaves an existing spec as it was.
    """
    import yaml  # noqa: PLC0415
    from tfx import v1 as tfx  # noqa: PLC0415

    from pipeline.pipeline import create_pipeline  # noqa: PLC0415

    pipeline = create_pipeline(config)
    check_artifact_type_names(pipeline)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=image),
    )
    job = runner.run(pipeline, write_out=False)
    spec = job["pipelineSpec"]
    spec["defaultPipelineRoot"] = config.pipeline_root
    header = (
        "# KFP v2 pipeline spec compiled by kubeflow_runner.py from pipeline/pipeline.py:create_pipeline\n"
        f"# Name: {spec['pipelineInfo']['name']}\n"
        f"# Image: {image}\n"
    )
    output_file.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=output_file.parent, prefix=f".{output_file.name}.", suffix=".tmp", delete=False
    ) as handle:
        handle.write(header)
        yaml.safe_dump(spec, handle, sort_keys=True)
    os.replace(handle.name, output_file)
    return spec


# ----------------------------------------------------------------------------- main


def run(argv: Optional[Sequence[str]] = None) -> int:
    """Checks the flags, compiles, and submits if asked; returns the exit code."""
    args = parse_args(argv)
    try:
        config = build_config(args)
        output_file = output_file_for(args)
        submission = plan_submission(args, output_file, config)
    except (UserInputError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        spec = compile_pipeline(config, args.image, output_file)
    except NotCompilableError as error:
        print(f"error: the pipeline cannot be compiled for Kubeflow: {error}", file=sys.stderr)
        return 1
    tasks = sorted(spec["root"]["dag"]["tasks"])
    print(f"compiled {len(tasks)} tasks ({', '.join(tasks)}) -> {output_file}")
    if submission is None:
        return 0
    try:
        created = submit(submission)
    except Exception as error:  # noqa: BLE001 - any client/network failure becomes one line
        print(f"error: submitting to {args.host} failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(f"submitted to {args.host}: {created}")
    return 0


def main(argv: Optional[List[str]] = None) -> None:
    sys.exit(run(argv))


if __name__ == "__main__":
    main()
