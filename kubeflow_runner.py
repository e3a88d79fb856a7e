"""Compiles the pipeline for Kubeflow Pipelines (KFP v2) and, optionally, submits or schedules it.

    python kubeflow_runner.py --image REGISTRY/imbalanced-tfx:TAG \\
        --pipeline-root gs://BUCKET/tfx-root --data-root gs://BUCKET/prepared_data
    python kubeflow_runner.py ... --host http://localhost:8080 --baseline none                  # one run now
    python kubeflow_runner.py ... --host http://localhost:8080 --baseline none --schedule "0 3 * * *"  # nightly

A thin runner, like the TFX templates': its flags and `run()`. The checks, the config and the
compilation are in `pipeline/kubeflow.py`, the kfp client calls in `pipeline/kfp_submission.py`,
and the cron grammar (shared with `local_runner.py`) in `pipeline/schedule.py`.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
from typing import List, Optional, Sequence

from pipeline import kfp_submission, kubeflow
from pipeline.errors import ConfigError, UserInputError
from pipeline.overrides import add_config_flags

REPO_ROOT = pathlib.Path(__file__).resolve().parent
DEFAULT_PIPELINE_NAME = "imbalanced-creditcard"
DEFAULT_DATASET = REPO_ROOT / "schema" / "creditcard" / "dataset.yaml"


def _env_flag(parser: argparse.ArgumentParser, flag: str, env: str, text: str, when_unset: str = "required") -> None:
    """A flag whose default is the environment variable `env`; its help says so, and what holds when neither is set."""
    parser.add_argument(flag, default=os.environ.get(env), help=f"{text} (env {env}; {when_unset})")


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Compile the imbalanced-data TFX pipeline into a Kubeflow Pipelines (KFP v2) spec, "
        "and optionally submit it as a run or a recurring run.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _env_flag(
        parser,
        "--image",
        kubeflow.ENV_IMAGE,
        "container image every component runs in, built from this repo's Dockerfile and pushed to a registry "
        "the cluster can pull from, e.g. gcr.io/PROJECT/imbalanced-tfx:0.1.0",
    )
    _env_flag(
        parser,
        "--pipeline-root",
        kubeflow.ENV_PIPELINE_ROOT,
        "where the components write their artifacts: a gs:// or s3:// URI the pods can write "
        "(local paths are refused: the pods do not share this disk)",
    )
    parser.add_argument(
        "--dataset",
        default=str(DEFAULT_DATASET),
        help="the data set's description (schema/<name>/dataset.yaml) with its reviewed schema.pbtxt beside it: "
        "the label, slices and model inputs come from them (a first local_runner.py run writes the schema)",
    )
    _env_flag(
        parser,
        "--data-root",
        kubeflow.ENV_DATA_ROOT,
        "folder (gs:// or s3://) holding the prepared spans ExampleGen reads (span-<N>/<split>/): run "
        "local_runner.py once and upload OUTPUT/prepared_data/",
    )
    _env_flag(
        parser,
        "--serving-model-dir",
        kubeflow.ENV_SERVING_MODEL_DIR,
        "where the Pusher copies blessed models (gs:// or s3://)",
        when_unset="default: PIPELINE_ROOT/serving_model",
    )
    parser.add_argument(
        "--schema-path",
        help="the schema file as the pods see it (default: the description's schema.pbtxt inside the image, "
        f"where the Dockerfile copies the repo: {kubeflow.IMAGE_REPO_ROOT}/schema/NAME/schema.pbtxt), "
        "or a gs:// / s3:// URI",
    )
    parser.add_argument("--pipeline-name", default=DEFAULT_PIPELINE_NAME, help="KFP pipeline name (a-z, 0-9, -)")
    add_config_flags(
        parser,
        beam_arg_help="a Beam pipeline argument for every Beam component, repeatable, e.g. "
        "--beam-arg=--runner=DataflowRunner --beam-arg=--project=P --beam-arg=--region=R "
        f"--beam-arg=--temp_location=gs://B/tmp (env {kubeflow.ENV_BEAM_ARGS}, space-separated; default: "
        f"{' '.join(kubeflow.DEFAULT_BEAM_ARGS)})",
        set_examples="--set trainer.max_epochs=5",
    )
    parser.add_argument(
        "--baseline",
        choices=kubeflow.BASELINE_CHOICES,
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
        "('MIN HOUR DOM MON DOW', e.g. '0 3 * * *' or '0 3 * * MON-FRI') or KFP's 6-field cron with seconds "
        "first ('SEC MIN HOUR DOM MON DOW'); 5 fields get second 0. Runs never overlap (max concurrency 1) "
        "and missed runs are not back-filled",
    )
    parser.add_argument("--experiment", help="KFP experiment for the run (default: the pipeline name)")
    parser.add_argument("--namespace", help="Kubernetes namespace of a multi-user Kubeflow (default: kfp's)")
    return parser.parse_args(argv)


def run(argv: Optional[Sequence[str]] = None) -> int:
    """Checks the flags, compiles, and submits if asked; returns the exit code."""
    args = parse_args(argv)
    try:
        config = kubeflow.build_config(args)
        spec_file = kubeflow.spec_file(
            args.output_file, REPO_ROOT / "outputs" / "kubeflow" / f"{args.pipeline_name}.yaml"
        )
        submission = kfp_submission.plan_submission(args, spec_file, config)
    except (UserInputError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        spec = kubeflow.compile_pipeline(config, args.image, spec_file)
    except kubeflow.NotCompilableError as error:
        print(f"error: the pipeline cannot be compiled for Kubeflow: {error}", file=sys.stderr)
        return 1
    tasks = sorted(spec["root"]["dag"]["tasks"])
    print(f"compiled {len(tasks)} tasks ({', '.join(tasks)}) -> {spec_file}")
    if submission is None:
        return 0
    try:
        created = kfp_submission.submit(submission)
    except Exception as error:  # noqa: BLE001 - any client/network failure becomes one line
        print(f"error: submitting to {args.host} failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(f"submitted to {args.host}: {created}")
    return 0


def main(argv: Optional[List[str]] = None) -> None:
    sys.exit(run(argv))


if __name__ == "__main__":
    main()
