"""The pipeline on Kubeflow Pipelines (KFP v2): its `PipelineConfig`, checked, and its compiled spec.

The same `create_pipeline(config)` as on LocalDagRunner, compiled by TFX's KubeflowV2DagRunner
into a KFP v2 pipeline spec (YAML). What differs on Kubeflow, and is checked here before anything
is compiled or sent:
- every path is a URI the pods can reach (gs:// or s3://), and the schema is read inside the image;
- there is no SQLite file: the cluster's ML Metadata store is used (`metadata_path` stays None);
- KFP v2 runs no Python resolver code, so the config asks `create_pipeline` for TFX's
  LatestBlessedModelStrategy baseline (or none) and no span-drift resolver;
- custom artifact types need KFP's `namespace.TypeName` form of name.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import shlex
import tempfile
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Sequence, Tuple

from pipeline.dataset import load_description
from pipeline.errors import UserInputError
from pipeline.overrides import configure

if TYPE_CHECKING:  # imported in build_config: the flag checks come before TensorFlow loads
    from pipeline.config import PipelineConfig

# Where the Dockerfile copies the repository inside the image.
IMAGE_REPO_ROOT = "/pipeline"
# In a pod: DirectRunner on every core the pod has (0 = as many workers as CPUs).
DEFAULT_BEAM_ARGS = ("--direct_running_mode=multi_processing", "--direct_num_workers=0")
# Schemes that TFX's file I/O (tf.io.gfile) can read and write from a pod: gs:// natively,
# s3:// through tensorflow-io's S3 filesystem (also for MinIO, with S3_ENDPOINT set).
STORAGE_SCHEMES = ("gs", "s3")
# --baseline value -> PipelineConfig.baseline. KFP v2 compiles only TFX's own resolver strategies.
BASELINE_CHOICES = {"latest-blessed": "last_blessed", "none": "none"}
# KFP v2 pipeline names (pipelineInfo.name) and so TFX pipeline names here.
_PIPELINE_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,127}$")
# KFP v2 schema titles of custom artifact types (TFX 1.16 compiler_utils checks the same form).
_ARTIFACT_TYPE_NAME = re.compile(r"^[a-z][a-z0-9-_]{2,20}[.][A-Z][a-zA-Z0-9-_]{2,49}$")

# Environment variables read when the flag is absent.
ENV_IMAGE = "PIPELINE_IMAGE"
ENV_PIPELINE_ROOT = "PIPELINE_ROOT"
ENV_DATA_ROOT = "PIPELINE_DATA_ROOT"
ENV_SERVING_MODEL_DIR = "PIPELINE_SERVING_MODEL_DIR"
ENV_BEAM_ARGS = "PIPELINE_BEAM_ARGS"


class KubeflowUsageError(UserInputError):
    """A flag or environment value the Kubeflow runner cannot use, with what to do instead."""


class NotCompilableError(ValueError):
    """The pipeline's code uses something KFP v2 cannot express; the message names the node and the fix."""


def require_storage_uri(flag: str, value: Optional[str], env: Optional[str] = None) -> str:
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
    """A path inside the image (absolute) or a storage URI."""
    if value.startswith("/"):
        return value
    return require_storage_uri("--schema-path", value)


def beam_args_from(flag_values: Optional[Sequence[str]], environ: Mapping[str, str]) -> Tuple[str, ...]:
    """--beam-arg values, else $PIPELINE_BEAM_ARGS split like a shell, else the defaults."""
    if flag_values:
        return tuple(flag_values)
    from_env = environ.get(ENV_BEAM_ARGS, "").strip()
    if from_env:
        return tuple(shlex.split(from_env))
    return DEFAULT_BEAM_ARGS


def build_config(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> PipelineConfig:
    """The PipelineConfig for the Kubeflow runner's flags: URIs only, no SQLite metadata file."""
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
    pipeline_root = require_storage_uri("--pipeline-root", args.pipeline_root, ENV_PIPELINE_ROOT)
    data_root = require_storage_uri("--data-root", args.data_root, ENV_DATA_ROOT)
    serving_model_dir = require_storage_uri(
        "--serving-model-dir", args.serving_model_dir or f"{pipeline_root}/serving_model", ENV_SERVING_MODEL_DIR
    )
    from pipeline.config import PipelineConfig
    from pipeline.schema_review import columns_from_schema, read_schema

    description = load_description(pathlib.Path(args.dataset))
    if not description.schema_path.is_file():
        raise KubeflowUsageError(
            f"{description.schema_path} does not exist: Kubeflow runs import a reviewed schema; run local_runner.py "
            f"--dataset {args.dataset} once (it saves the schema SchemaGen infers there), review and commit it"
        )
    columns = columns_from_schema(read_schema(description.schema_path), description)
    image_schema = f"{IMAGE_REPO_ROOT}/schema/{description.schema_path.parent.name}/{description.schema_path.name}"
    config = PipelineConfig(
        pipeline_name=args.pipeline_name,
        pipeline_root=pipeline_root,
        data_root=data_root,
        serving_model_dir=serving_model_dir,
        schema_path=_require_schema_path(args.schema_path or image_schema),
        numeric_feature_keys=columns.numeric,
        categorical_feature_keys=columns.categorical,
        nullable_feature_keys=columns.nullable,
        metadata_path=None,
        beam_pipeline_args=beam_args_from(args.beam_args, environ),
        enable_cache=not args.no_cache,
        baseline=BASELINE_CHOICES[args.baseline],
        # Drift between spans needs a Python resolver, which KFP v2 cannot run.
        span_drift=False,
        **description.config_names(),
    )
    config = configure(config, description, args.overrides)
    if config.metadata_path is not None:
        raise KubeflowUsageError("--set metadata_path: Kubeflow provides the ML Metadata store; leave it unset")
    return config


def spec_file(output_file: Optional[str], default: pathlib.Path) -> pathlib.Path:
    """Where the compiled spec goes: `output_file` (from --output-file) or `default`, a .yaml/.yml file."""
    path = pathlib.Path(output_file) if output_file else default
    if path.suffix not in (".yaml", ".yml"):
        raise KubeflowUsageError(f"--output-file {str(path)!r} must end with .yaml or .yml (a KFP v2 pipeline spec)")
    if path.exists() and path.is_dir():
        raise KubeflowUsageError(f"--output-file {str(path)!r} is a folder; name a .yaml file")
    return path.resolve()


def check_artifact_type_names(pipeline: Any) -> None:
    """Fails with the class to change when a custom artifact type has a name KFP v2 cannot carry."""
    from tfx.types import standard_artifacts

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
    # Imported here: the components and TFX's compiler load only once the flags are known good.
    import yaml
    from tfx import v1 as tfx

    from pipeline.pipeline import create_pipeline

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
