"""`pipeline/kfp_submission.py`: the kfp Client calls for --host and --schedule, planned without a network.

No cluster here: each planned call is bound to the real kfp.Client method signature, so a renamed
or missing argument fails here rather than against an endpoint.
"""

from __future__ import annotations

import inspect
import pathlib

import kubeflow_runner
from pipeline import kfp_submission, kubeflow

PIPELINE_ROOT = "gs://test-bucket/tfx-root"
BASE_FLAGS = (
    "--image",
    "registry.example/imbalanced-tfx:test",
    "--pipeline-root",
    PIPELINE_ROOT,
    "--data-root",
    "gs://test-bucket/prepared_data",
    "--baseline",
    "none",
)


def _plan(*extra: str):
    args = kubeflow_runner.parse_args([*BASE_FLAGS, *extra])
    config = kubeflow.build_config(args, environ={})
    return kfp_submission.plan_submission(args, pathlib.Path("/specs/p.yaml"), config), config


def test_no_host_means_compile_only():
    plan, _ = _plan()
    assert plan is None


def test_host_plans_one_run_with_kfp_client_arguments():
    import kfp

    plan, config = _plan("--host", "http://localhost:8080", "--experiment", "fraud", "--no-cache")
    assert plan.method == kfp_submission.CREATE_RUN
    assert plan.client_kwargs == {"host": "http://localhost:8080"}
    assert plan.method_kwargs == {
        "pipeline_file": "/specs/p.yaml",
        "arguments": {},
        "experiment_name": "fraud",
        "namespace": None,
        "pipeline_root": PIPELINE_ROOT,
        "enable_caching": False,
    }
    # The names match kfp 2.5's real signatures (no server involved).
    inspect.signature(kfp.Client).bind(**plan.client_kwargs)
    inspect.signature(kfp.Client.create_run_from_pipeline_package).bind(None, **plan.method_kwargs)
    assert config.enable_cache is False


def test_schedule_plans_a_recurring_run_that_never_overlaps():
    import kfp

    plan, _ = _plan("--host", "https://kfp.example", "--namespace", "team-a", "--schedule", "0 3 * * *")
    assert plan.method == kfp_submission.CREATE_RECURRING_RUN
    assert plan.client_kwargs == {"host": "https://kfp.example", "namespace": "team-a"}
    assert plan.experiment_name == kubeflow_runner.DEFAULT_PIPELINE_NAME
    assert plan.namespace == "team-a"
    kwargs = plan.method_kwargs
    assert kwargs["cron_expression"] == "0 0 3 * * *"
    assert kwargs["max_concurrency"] == 1
    assert kwargs["no_catchup"] is True
    assert kwargs["pipeline_package_path"] == "/specs/p.yaml"
    assert kwargs["pipeline_root"] == PIPELINE_ROOT
    assert kwargs["enable_caching"] is True
    assert kwargs["job_name"] == f"{kubeflow_runner.DEFAULT_PIPELINE_NAME}-retrain"
    inspect.signature(kfp.Client).bind(**plan.client_kwargs)
    inspect.signature(kfp.Client.create_recurring_run).bind(None, experiment_id="experiment-id", **kwargs)
    inspect.signature(kfp.Client.create_experiment).bind(None, name=plan.experiment_name, namespace=plan.namespace)


def test_a_schedule_with_day_names_reaches_kfp_as_written():
    plan, _ = _plan("--host", "https://kfp.example", "--schedule", "30 2 * * mon-fri")
    assert plan.method_kwargs["cron_expression"] == "0 30 2 * * mon-fri"
    assert "(0 30 2 * * mon-fri)" in plan.method_kwargs["description"]
