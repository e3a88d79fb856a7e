"""The command line: flags, the config they make, one run over the chosen strategies, the report files."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import sys
import time
from typing import Any, Dict, Optional, Sequence

from benchmarks.strategy_report import choice, classes, inputs, render_classes
from benchmarks.strategy_report.metrics import TARGET_PR_AUC, TARGET_PRECISION, TARGET_RECALL, TARGET_ROC_AUC
from benchmarks.strategy_report.render import markdown_table, plot_curves, render_html
from benchmarks.strategy_report.runs import cpu_seconds, load_valid_predictions, run_strategy, write_atomically
from benchmarks.strategy_report.strategies import (
    STRATEGY_NAMES,
    Strategy,
    StrategyReportError,
    selected_strategies,
    strategy_config,
)
from components.rebalance.plan import SYNTHESIS_STRATEGIES
from pipeline import harness
from pipeline.config import PipelineConfig
from pipeline.dataset import DatasetDescription
from pipeline.errors import ConfigError, UserInputError
from pipeline.overrides import add_config_flags, configure
from pipeline.prepare import with_columns

# In-process DirectRunner (one process): ExampleGen orders the rows differently on every fresh
# --output (TFX's unseeded beam.Reshuffle), so models are reproducible given the same Examples,
# which a reused --output keeps. Pass --beam-arg=--direct_running_mode=multi_processing for speed.
DEFAULT_BEAM_ARGS = ("--direct_running_mode=in_memory",)
# Members of the `ensemble`, `seed_bagging` and `mlp_gbt` rows: the size those rows were measured with.
ENSEMBLE_MEMBERS = 10
REPORT_JSON = "report.json"
REPORT_HTML = "report.html"


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.strategy_report",
        description="Train and evaluate every imbalance strategy on the same splits; write report.html and "
        "report.json into --output.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--output", required=True, help="folder for the examples, models, predictions and report")
    parser.add_argument(
        "--dataset",
        help="the data set's description (schema/<name>/dataset.yaml); default: "
        f"{inputs.DEFAULT_DATASET.relative_to(inputs.REPO_ROOT)}, the credit-card data",
    )
    parser.add_argument("--data", help="a CSV to read instead of the description's own table (in its layout)")
    parser.add_argument("--data-dir", default=str(inputs.REPO_ROOT / "data"), help="where a fetched data set is cached")
    parser.add_argument(
        "--strategies",
        help="comma-separated subset of: "
        + ", ".join(STRATEGY_NAMES)
        + " (default: all of them; for a multiclass label all but the binary-only ones)",
    )
    parser.add_argument("--max-epochs", type=int, help="trainer.max_epochs (default: the config's)")
    parser.add_argument("--batch-size", type=int, help="trainer.batch_size")
    parser.add_argument("--hidden-units", help="trainer.hidden_units, e.g. 64,32")
    parser.add_argument("--learning-rate", type=float, help="trainer.learning_rate")
    parser.add_argument("--patience", type=int, help="trainer.early_stopping_patience")
    parser.add_argument(
        "--threshold-rule", help="trainer.threshold_rule (max_f1, max_precision_at_recall, max_recall_at_precision)"
    )
    parser.add_argument("--target-ratio", type=float, help="rebalance.target_ratio of the resampling strategies")
    parser.add_argument(
        "--ensemble-members",
        type=int,
        default=ENSEMBLE_MEMBERS,
        help="trainer.ensemble_members of the ensemble strategies (the pipeline's default trains one model)",
    )
    defaults = choice.ChoiceParameters()
    parser.add_argument(
        "--choice-resamples",
        type=int,
        default=defaults.resamples,
        help="paired bootstrap resamples of valid behind the advice to keep or switch the model",
    )
    parser.add_argument(
        "--choice-confidence",
        type=float,
        default=defaults.confidence,
        help="share of those resamples the best row on valid must lead the current one in to advise a switch",
    )
    parser.add_argument("--choice-seed", type=int, default=defaults.seed, help="seed of those resamples")
    add_config_flags(
        parser,
        beam_arg_help="Beam pipeline argument for ExampleGen and Rebalance, repeatable (default: "
        + " ".join(DEFAULT_BEAM_ARGS)
        + ")",
        set_examples="--set trainer.dropout=0.2 (any setting the flags above do not cover)",
    )
    args = parser.parse_args(argv)
    args.beam_args = tuple(args.beam_args) if args.beam_args else DEFAULT_BEAM_ARGS
    return args


def build_config(args: argparse.Namespace, described: DatasetDescription, output: pathlib.Path) -> PipelineConfig:
    """The pipeline's config with the flags and `--set` overrides applied (checked here, before any work).

    The model's input columns are added after data prep (`pipeline.prepare.with_columns`).
    """
    config = _configure(args, described, output, ensemble_members=args.ensemble_members)
    members = config.trainer.ensemble_members
    if members < 2:
        raise StrategyReportError(f"--ensemble-members must be >= 2 for an ensemble, got {members}")
    return config


def runner_config(args: argparse.Namespace, described: DatasetDescription, output: pathlib.Path) -> PipelineConfig:
    """What `local_runner.py` would train with this description, `--set`s and model flags: the current row's config.

    `--ensemble-members` sizes the report's ensemble rows only, so it is left out.
    """
    return _configure(args, described, output, ensemble_members=None)


def _configure(
    args: argparse.Namespace, described: DatasetDescription, output: pathlib.Path, ensemble_members: Optional[int]
) -> PipelineConfig:
    overrides = list(args.overrides)
    flag_settings = {
        "trainer.max_epochs": args.max_epochs,
        "trainer.batch_size": args.batch_size,
        "trainer.hidden_units": args.hidden_units,
        "trainer.learning_rate": args.learning_rate,
        "trainer.early_stopping_patience": args.patience,
        "trainer.threshold_rule": args.threshold_rule,
        "rebalance.target_ratio": args.target_ratio,
        "trainer.ensemble_members": ensemble_members,
    }
    overrides += [f"{name}={value}" for name, value in flag_settings.items() if value is not None]
    config = PipelineConfig(
        pipeline_name="strategy-report",
        pipeline_root=str(output),
        data_root=str(output / inputs.PREPARED_DATA_DIR),
        serving_model_dir=str(output / "unused_serving_model"),
        schema_path=described.reviewed_schema,
        beam_pipeline_args=tuple(args.beam_args),
        **described.config_names(),
    )
    return configure(config, described, overrides)


def run(args: argparse.Namespace, argv: Sequence[str]) -> Dict[str, Any]:
    """Prepares the data, runs every chosen strategy, writes report.json and report.html; returns the report."""
    started, cpu_started = time.monotonic(), cpu_seconds()
    output = pathlib.Path(args.output).resolve()
    advice_parameters = choice.ChoiceParameters(args.choice_resamples, args.choice_confidence, args.choice_seed)
    described = inputs.description(args.dataset, args.data)
    config = build_config(args, described, output)
    strategies, skipped = selected_strategies(args.strategies, config.multiclass)
    for line in skipped:
        print(line, flush=True)
    source, prepared = inputs.prepare(described, pathlib.Path(args.data_dir), output)
    (span,) = prepared.spans.values()
    print(f"data: {span.folder} ({span.rows} rows, classes {span.class_counts})", flush=True)
    config = with_columns(config, prepared)
    runner = with_columns(runner_config(args, described, output), prepared)
    _check_synthesis_features(strategies, config)
    examples, examples_seconds = inputs.examples_once(config, prepared, output)
    schema = harness.make_schema(examples, config, output)

    data_key = inputs.data_key(prepared)
    train_counts = span.split_counts["train"]
    results = {
        strategy.name: run_strategy(strategy, config, examples, schema, output, data_key, train_counts)
        for strategy in strategies
    }
    report: Dict[str, Any] = {
        "command": "python -m benchmarks.strategy_report " + " ".join(argv),
        "data": {
            "csv": str(source),
            "dataset": str(described.path),
            "rows": span.rows,
            "class_counts": {str(k): v for k, v in span.class_counts.items()},
            "split_counts": {
                name: {str(k): v for k, v in counts.items()} for name, counts in span.split_counts.items()
            },
        },
        "split": dataclasses.asdict(described.split),
        "columns": dataclasses.asdict(prepared.types),
        "slice_keys": list(config.slice_feature_keys),
        "trainer_config": dataclasses.asdict(config.trainer),
        "rebalance_config": dataclasses.asdict(config.rebalance),
        "ensemble_members": config.trainer.ensemble_members,
        "beam_pipeline_args": list(args.beam_args),
        "example_gen_seconds": round(examples_seconds, 2),
        "strategies": results,
        "strategy_order": list(results),
    }
    report.update(_multiclass_summary(results, config, skipped) if config.multiclass else _binary_summary(results))
    report["choice"] = _advice(advice_parameters, results, strategies, runner, output, train_counts)
    report["wall_seconds"] = round(time.monotonic() - started, 1)
    report["cpu_seconds"] = round(cpu_seconds() - cpu_started, 1)
    report["cpu_count"] = os.cpu_count()
    report["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    if config.multiclass:
        page = render_classes.render_html(report, render_classes.plot_class_curves(results, config.class_names))
    else:
        page = render_html(report, plot_curves(results))
    write_atomically(output / REPORT_JSON, (json.dumps(report, indent=2, sort_keys=True) + "\n").encode())
    write_atomically(output / REPORT_HTML, page.encode())
    return report


def _advice(
    parameters: choice.ChoiceParameters,
    results: Dict[str, Any],
    strategies: Sequence[Strategy],
    runner: PipelineConfig,
    output: pathlib.Path,
    train_counts,
) -> Dict[str, Any]:
    """`choice.choose` over the rows run: keep the runner's model, or switch to the best on valid."""
    by_name = {strategy.name: strategy for strategy in strategies}
    metric = "protected_mean_pr_auc" if runner.multiclass else "pr_auc"
    return choice.choose(
        results,
        lambda name: load_valid_predictions(output, name),
        choice.current_row(runner, strategies, train_counts),
        metric,
        runner.protected_classes if runner.multiclass else None,
        parameters,
        lambda name: choice.settings_change(runner, strategy_config(runner, by_name[name], train_counts)),
    )


def _check_synthesis_features(strategies: Sequence[Strategy], config: PipelineConfig) -> None:
    """Refuses SMOTE, augment_noise and mixup before anything trains when they have no feature to make values of.

    They alter the numeric inputs that are never missing (a missing value has nothing to
    interpolate or perturb: the pipeline's Rebalance node gets only those), or
    `rebalance.smote_feature_keys`; Rebalance itself would refuse only when its turn came.
    """
    names = [strategy.name for strategy in strategies if strategy.rebalance in SYNTHESIS_STRATEGIES]
    complete = [key for key in config.numeric_feature_keys if key not in config.nullable_feature_keys]
    if names and not (config.rebalance.smote_feature_keys or complete):
        found = (
            f"every numeric column here has some ({', '.join(config.nullable_feature_keys)})"
            if config.numeric_feature_keys
            else "there is no numeric column"
        )
        raise StrategyReportError(
            f"--strategies {', '.join(names)}: they make new values of the numeric inputs without missing values, "
            f"and {found}; leave them out"
        )


def _binary_summary(results: Dict[str, Any]) -> Dict[str, Any]:
    """The eval split's size, the ranking by PR-AUC and the quality target of a binary label."""
    any_result = next(iter(results.values()))
    ranked = sorted(results, key=lambda name: -(results[name]["overall"]["pr_auc"] or 0.0))
    return {
        "eval_split": {"rows": any_result["overall"]["rows"], "positives": any_result["overall"]["positives"]},
        "ranking_by_pr_auc": ranked,
        "best_by_pr_auc": ranked[0],
        "best_on_valid": choice.best_on_valid(results, "pr_auc"),
        "quality_target": {
            "pr_auc": TARGET_PR_AUC,
            "roc_auc": TARGET_ROC_AUC,
            "recall": TARGET_RECALL,
            "precision": TARGET_PRECISION,
        },
        "quality_target_met_by": [name for name in ranked if results[name]["quality_target"]["met"]],
    }


def _multiclass_summary(results: Dict[str, Any], config: PipelineConfig, skipped: Sequence[str]) -> Dict[str, Any]:
    """The classes, the eval split's rows per class, the ranking and the strategies skipped as binary only.

    The credit-card quality target is a binary one; a multiclass report has none.
    """
    overall = next(iter(results.values()))["overall"]
    ranked = classes.ranking(results)
    return {
        "class_names": list(config.class_names),
        "protected_classes": [config.class_names[index] for index in config.protected_classes],
        "eval_split": {
            "rows": overall["rows"],
            "class_rows": {name: figures["rows"] for name, figures in overall["classes"].items()},
        },
        "ranking_metric": classes.RANKING_METRIC,
        "ranking": ranked,
        "best": ranked[0],
        "best_on_valid": choice.best_on_valid(results, "protected_mean_pr_auc"),
        "skipped_strategies": list(skipped),
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the report; a bad argument or input is one line on stderr and exit code 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    try:
        report = run(args, argv)
    except (UserInputError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    if "class_names" in report:
        print(render_classes.markdown_tables(report))
        print(
            f"best by {report['ranking_metric']}: {report['best']}; best on valid by the same: "
            f"{report['best_on_valid']}; wall time {report['wall_seconds']:.0f} s"
        )
    else:
        print(markdown_table(report))
        print(
            f"best by PR-AUC: {report['best_by_pr_auc']}; best on valid PR-AUC: {report['best_on_valid']}; "
            f"quality target met by: "
            f"{report['quality_target_met_by'] or 'none'}; wall time {report['wall_seconds']:.0f} s",
            flush=True,
        )
    print(f"model to train: {report['choice']['message']}", flush=True)
    print(f"wrote {pathlib.Path(args.output).resolve() / REPORT_HTML} and {REPORT_JSON}", flush=True)
    return 0
