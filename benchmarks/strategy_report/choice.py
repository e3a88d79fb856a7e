"""Whether the row best on valid should replace the model the runner trains today, and how to say so.

The report ranks its rows on `valid`, the split a user may choose by. A lead there is one sample
of a noisy figure: with 30 valid positives one positive moves PR-AUC by hundredths, and on the
credit-card data the forest led the default by 0.0003 on valid and ranked last on eval. So the
report keeps the *current* row (the one that trains what `local_runner.py` would with this
description and these flags) unless the best row on valid leads it in at least `confidence` of
paired bootstrap resamples of the valid rows. Each resample draws every class's rows from that
class alone, so it keeps valid's class counts (a resample without positives has no PR-AUC); both
rows are scored on the same resampled rows, so what they share cancels out of the lead. The
best row was picked from several on the same valid rows, which flatters it; so with m rows
besides the current one the share it must reach is 1 - (1 - confidence) / m (Bonferroni): 95%
against one other row, 97.5% against two. The valid split also early-stopped and tuned every
model, which makes each row's valid figure a little high; the rule compares rows that share that bias.

A switch comes with the `settings:` entry that makes the description train the chosen row.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

import numpy as np
import yaml

from benchmarks.strategy_report.classes import mean_of_defined
from benchmarks.strategy_report.metrics import average_precision
from benchmarks.strategy_report.strategies import Strategy, StrategyReportError, strategy_config
from pipeline.config import PipelineConfig

# The config sections a strategy changes; the settings a switch needs come from these alone.
STRATEGY_SECTIONS = ("trainer", "rebalance")

Score = Callable[[np.ndarray, np.ndarray], Optional[float]]


@dataclasses.dataclass(frozen=True)
class ChoiceParameters:
    """How sure the report must be before it advises leaving the current model."""

    # Paired resamples of the valid rows; 1,000 puts the share's standard error under 0.007.
    resamples: int = 1000
    # The share of resamples the best row must lead in: a one-sided 95% bootstrap test.
    confidence: float = 0.95
    seed: int = 42

    def __post_init__(self) -> None:
        if self.resamples < 100:
            raise StrategyReportError(f"--choice-resamples must be >= 100, got {self.resamples}")
        if not 0.5 <= self.confidence < 1.0:
            raise StrategyReportError(f"--choice-confidence must be in [0.5, 1), got {self.confidence}")


@dataclasses.dataclass(frozen=True)
class Lead:
    """The challenger's valid figure minus the incumbent's, and how often resampling kept it ahead."""

    lead: float
    low: float  # 5th percentile of the resampled leads
    high: float  # 95th percentile
    share_ahead: float  # resamples in which the challenger scored strictly higher


def ranking_score(protected: Optional[Sequence[int]]) -> Score:
    """The report's valid ranking metric: binary PR-AUC, or the protected classes' mean one-vs-rest PR-AUC."""
    if protected is None:
        return average_precision

    def protected_mean(labels: np.ndarray, probabilities: np.ndarray) -> Optional[float]:
        return mean_of_defined(
            [average_precision((labels == index).astype(np.int8), probabilities[:, index]) for index in protected]
        )

    return protected_mean


def class_resample(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row indices drawn with replacement within each class, as many as the class has."""
    parts = []
    for value in np.unique(labels):
        rows = np.flatnonzero(labels == value)
        parts.append(rows[rng.integers(0, rows.size, size=rows.size)])
    return np.sort(np.concatenate(parts))


def paired_lead(
    labels: np.ndarray,
    challenger: np.ndarray,
    incumbent: np.ndarray,
    score: Score,
    parameters: ChoiceParameters,
) -> Lead:
    """How far `challenger`'s probabilities rank above `incumbent`'s on the same rows, resampled in pairs."""
    labels = np.asarray(labels).reshape(-1)
    if len(challenger) != labels.size or len(incumbent) != labels.size:
        raise ValueError(f"{labels.size} labels against {len(challenger)} and {len(incumbent)} predictions")
    full = _difference(score, labels, challenger, incumbent)
    rng = np.random.default_rng(parameters.seed)
    leads = np.empty(parameters.resamples)
    for draw in range(parameters.resamples):
        rows = class_resample(labels, rng)
        leads[draw] = _difference(score, labels[rows], challenger[rows], incumbent[rows])
    return Lead(
        lead=full,
        low=float(np.quantile(leads, 0.05)),
        high=float(np.quantile(leads, 0.95)),
        share_ahead=float(np.mean(leads > 0.0)),
    )


def _difference(score: Score, labels: np.ndarray, challenger: np.ndarray, incumbent: np.ndarray) -> float:
    ahead, behind = score(labels, challenger), score(labels, incumbent)
    if ahead is None or behind is None:
        raise ValueError("the valid split holds no row of a class the ranking metric needs")
    return ahead - behind


def current_row(
    runner: PipelineConfig, strategies: Sequence[Strategy], train_counts: Optional[Mapping[int, int]] = None
) -> Optional[str]:
    """The row whose config is the runner's own in every section a strategy changes; None if no row is."""
    for strategy in strategies:
        config = strategy_config(runner, strategy, train_counts)
        if all(getattr(config, section) == getattr(runner, section) for section in STRATEGY_SECTIONS):
            return strategy.name
    return None


def settings_change(runner: PipelineConfig, chosen: PipelineConfig) -> Dict[str, Dict[str, Any]]:
    """The `settings:` entries (section -> name -> value) that turn the runner's config into `chosen`."""
    change: Dict[str, Dict[str, Any]] = {}
    for section in STRATEGY_SECTIONS:
        before, after = getattr(runner, section), getattr(chosen, section)
        for field in dataclasses.fields(after):
            value = getattr(after, field.name)
            if value != getattr(before, field.name):
                change.setdefault(section, {})[field.name] = _yaml_value(value)
    return change


def _yaml_value(value: Any) -> Any:
    """A config value as the description's YAML writes it: tuples as lists, pairs as NAME: VALUE."""
    if isinstance(value, tuple):
        if value and all(isinstance(item, tuple) and len(item) == 2 for item in value):
            return {str(name): _yaml_value(item) for name, item in value}
        return [_yaml_value(item) for item in value]
    return value


def settings_yaml(change: Mapping[str, Mapping[str, Any]]) -> str:
    """`{settings: {trainer: {model: rf}}}` as one YAML flow line."""
    return yaml.safe_dump({"settings": dict(change)}, default_flow_style=True, sort_keys=False, width=1000).strip()


def required_share(parameters: ChoiceParameters, challengers: int) -> float:
    """The share of resamples the best of `challengers` rows must lead the current one in (Bonferroni)."""
    return 1.0 - (1.0 - parameters.confidence) / max(challengers, 1)


def best_on_valid(results: Mapping[str, Mapping[str, Any]], metric: str) -> str:
    """The row whose model ranks best on valid: the choice a user can make without looking at eval."""
    return max(results, key=lambda name: results[name]["valid"][metric] or 0.0)


def choose(
    results: Mapping[str, Mapping[str, Any]],
    load_valid: Callable[[str], Mapping[str, np.ndarray]],
    current: Optional[str],
    metric: str,
    protected: Optional[Sequence[int]],
    parameters: ChoiceParameters,
    change_for: Callable[[str], Dict[str, Dict[str, Any]]],
) -> Dict[str, Any]:
    """The report's advice: keep `current` or switch to the best row on valid, with the evidence.

    `results` holds each row's `valid[metric]`; `load_valid(name)` reads row `name`'s valid `labels`
    and `probabilities` (only the two rows compared are read); `change_for(name)` the settings that
    make the runner train row `name`.
    """
    best = best_on_valid(results, metric)
    advice: Dict[str, Any] = {
        "current": current,
        "best_on_valid": best,
        "metric": metric,
        "resamples": parameters.resamples,
        "confidence": parameters.confidence,
        "required_share": required_share(parameters, len(results) - 1),
        "seed": parameters.seed,
    }
    if current is None:
        return {
            **advice,
            "decision": "no_current_row",
            "recommended": None,
            "message": "no row trains what local_runner.py would with this description and flags, so there is "
            f"nothing to keep or leave; {best} is best on valid. Add the runner's own model to --strategies to "
            "compare against it",
        }
    if best == current:
        return {**advice, "decision": "keep", "recommended": current, "message": f"keep {current}: best on valid"}
    challenger, incumbent = load_valid(best), load_valid(current)
    labels = np.asarray(incumbent["labels"])
    if not np.array_equal(labels, challenger["labels"]):
        raise StrategyReportError(
            f"the valid predictions of {best} and {current} hold different rows; "
            "run the report again into a fresh --output"
        )
    lead = paired_lead(
        labels,
        np.asarray(challenger["probabilities"]),
        np.asarray(incumbent["probabilities"]),
        ranking_score(protected),
        parameters,
    )
    evidence = (
        f"{best} leads {current} on valid by {lead.lead:.4f} (90% interval {lead.low:+.4f} to {lead.high:+.4f}), "
        f"ahead in {lead.share_ahead:.0%} of {parameters.resamples} paired resamples of valid"
    )
    advice.update(lead=lead.lead, interval_90=[lead.low, lead.high], share_ahead=lead.share_ahead)
    if lead.share_ahead < advice["required_share"]:
        return {
            **advice,
            "decision": "keep",
            "recommended": current,
            "message": f"keep {current}: {evidence}, under the {advice['required_share']:.1%} a switch over "
            f"{len(results) - 1} other row(s) needs",
        }
    change = change_for(best)
    return {
        **advice,
        "decision": "switch",
        "recommended": best,
        "settings": change,
        "message": f"switch to {best}: {evidence}; in dataset.yaml, on top of its own settings and this "
        f"command's flags: {settings_yaml(change)}",
    }
