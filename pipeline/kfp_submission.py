"""Submitting a compiled spec to a Kubeflow Pipelines endpoint: one run, or a recurring run.

`plan_submission` works out every kfp Client call from the runner's flags without touching the
network, so each mistake is refused before anything is sent and the calls can be checked
against kfp's real signatures; `submit` only carries them out.
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import re
from typing import TYPE_CHECKING, Any, Dict, Optional

from pipeline.kubeflow import KubeflowUsageError
from pipeline.schedule import kfp_cron

if TYPE_CHECKING:
    from pipeline.config import PipelineConfig

CREATE_RUN = "create_run_from_pipeline_package"
CREATE_RECURRING_RUN = "create_recurring_run"


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
    method_kwargs: Dict[str, Any]
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
    import kfp  # only when submitting: the kfp client is not needed to compile

    client = kfp.Client(**submission.client_kwargs)
    if submission.method == CREATE_RUN:
        result = client.create_run_from_pipeline_package(**submission.method_kwargs)
        return f"run {result.run_id}"
    experiment = client.create_experiment(name=submission.experiment_name, namespace=submission.namespace)
    recurring = client.create_recurring_run(experiment_id=experiment.experiment_id, **submission.method_kwargs)
    return f"recurring run {recurring.recurring_run_id} ({submission.method_kwargs['cron_expression']})"
