"""Candidate against baseline on the SAME eval examples: paired drops in recall and PR-AUC with their intervals.

Two models scored on the same positives are not two independent samples: most positives are
caught by both or missed by both, and only the positives on which they disagree carry
information about the difference. Comparing two independent intervals (0.80 ± 0.08 against
0.82 ± 0.08 on 100 frauds) would call any recall drop below about 0.1 noise. Paired:

- Recall at each model's served threshold. Of the n positives, `baseline_only` are caught by the
  baseline alone (lost by the candidate) and `candidate_only` by the candidate alone. The drop is
  (baseline_only − candidate_only) / n, exactly the difference of the two recalls. Its interval
  is the exact McNemar one: given the m = baseline_only + candidate_only positives on which the
  models disagree, baseline_only ~ Binomial(m, π), and the drop m(2π − 1)/n takes π's
  Clopper–Pearson bounds. It is conditional on m (the number of disagreements is taken as
  observed); at a zero allowed drop it is exactly the two-sided exact McNemar test at the
  confidence level. A candidate that loses 2 of 100 caught frauds and gains none has a drop of
  0.02 with interval [−0.014, 0.02]; one that loses 12 and gains 10 has the same drop with
  interval [−0.078, 0.113]: the first is a small, real loss, the second churn.
- PR-AUC, as average precision (the step-wise area, as scikit-learn computes it) of both models
  on the same examples. Its drop's interval is a percentile bootstrap: `bootstrap_samples`
  resamples, drawn with `seed`, of the positives and, separately, of the negatives (the eval
  split's class counts are fixed by construction), each scored for both models at once, so the
  two models' errors stay paired. The Evaluator's `pr_auc` is average precision too, binary and
  per class (`log_odds_auc`, scores within one log-odds bucket tied), so the gate's report and
  its rule speak of the same figure.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Iterator, Mapping, Tuple

import numpy as np
from scipy import stats

from components.blessing_gate import spec
from components.blessing_gate.errors import GateInputError
from components.blessing_gate.intervals import Interval, clopper_pearson

MCNEMAR = "exact McNemar (conditional on the disagreements)"
PAIRED_BOOTSTRAP = "paired stratified bootstrap"
# Resampled example indices held at once: replicates x examples, bounded to keep memory near 32 MB.
_CELLS_PER_CHUNK = 4_000_000


@dataclasses.dataclass(frozen=True)
class PairedComparison:
    """Both models on the same eval examples; drops are baseline minus candidate (positive = worse)."""

    examples: int
    positives: int
    caught_by_both: int
    candidate_only: int
    baseline_only: int
    missed_by_both: int
    recall_drop: float
    recall_drop_interval: Interval
    mcnemar_p_value: float
    candidate_average_precision: float
    baseline_average_precision: float
    average_precision_drop: float
    average_precision_drop_interval: Interval
    bootstrap_samples: int
    seed: int
    confidence: float

    def to_json(self) -> Dict[str, Any]:
        values = dataclasses.asdict(self)
        for name in ("recall_drop_interval", "average_precision_drop_interval"):
            values[name] = list(values[name])
        values["recall_method"] = MCNEMAR
        values["average_precision_method"] = PAIRED_BOOTSTRAP
        return values


def mcnemar_drop(
    candidate_only: int, baseline_only: int, positives: int, confidence: float
) -> Tuple[float, Interval, float]:
    """The recall drop, its exact conditional interval and the two-sided exact McNemar p-value."""
    if positives < 1 or min(candidate_only, baseline_only) < 0 or candidate_only + baseline_only > positives:
        raise ValueError(f"bad paired counts: {candidate_only} + {baseline_only} discordant of {positives} positives")
    discordant = candidate_only + baseline_only
    drop = (baseline_only - candidate_only) / positives
    if discordant == 0:
        return drop, (0.0, 0.0), 1.0
    lost_share = clopper_pearson(baseline_only, discordant, confidence)
    assert lost_share is not None  # discordant >= 1
    interval = tuple(discordant * (2.0 * share - 1.0) / positives for share in lost_share)
    p_value = float(stats.binomtest(baseline_only, discordant, 0.5).pvalue)
    return drop, (interval[0], interval[1]), p_value


def _threshold_codes(labels: np.ndarray, scores: np.ndarray) -> Tuple[np.ndarray, int]:
    """Per example, how many distinct positive scores are <= its score: it is called positive at that many thresholds.

    Average precision changes only at the positives' scores, so those are the only thresholds
    that matter; an example with code r counts at thresholds 1..r (the r lowest positive scores).
    """
    thresholds = np.unique(scores[labels == 1])
    return np.searchsorted(thresholds, scores, side="right"), len(thresholds)


def _average_precision_from_histograms(positives: np.ndarray, negatives: np.ndarray) -> np.ndarray:
    """Average precision per row from histograms of threshold codes (rows x thresholds+1).

    Σ over the positives' distinct scores, highest first, of (recall step) × precision, negatives
    tied with a positive counted as called, as scikit-learn's `average_precision_score` does.
    """
    true_positives = np.cumsum(positives[:, ::-1], axis=1)[:, ::-1][:, 1:]
    false_positives = np.cumsum(negatives[:, ::-1], axis=1)[:, ::-1][:, 1:]
    precision = true_positives / np.maximum(true_positives + false_positives, 1)
    return np.sum(positives[:, 1:] * precision, axis=1) / true_positives[:, 0]


def _histograms(codes: np.ndarray, draws: np.ndarray, width: int) -> np.ndarray:
    """Per row of `draws` (example indices), how many drawn examples have each code."""
    rows = draws.shape[0]
    offsets = codes[draws] + width * np.arange(rows)[:, None]
    return np.bincount(offsets.ravel(), minlength=rows * width).reshape(rows, width).astype(np.float64)


def resampled_average_precision(
    labels: np.ndarray, scores: np.ndarray, positive_draws: np.ndarray, negative_draws: np.ndarray
) -> np.ndarray:
    """Average precision of each resample (one row of drawn positive and negative example indices each)."""
    codes, count = _threshold_codes(labels, scores)
    return _average_precision_from_histograms(
        _histograms(codes, positive_draws, count + 1), _histograms(codes, negative_draws, count + 1)
    )


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    every = np.arange(len(labels))
    return float(resampled_average_precision(labels, scores, every[labels == 1][None], every[labels != 1][None])[0])


def bootstrap_draws(labels: np.ndarray, samples: int, seed: int) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
    """Stratified resamples in chunks: (rows x positives, rows x negatives) example indices; same seed, same draws."""
    rng = np.random.default_rng(seed)
    positives, negatives = np.flatnonzero(labels == 1), np.flatnonzero(labels != 1)
    chunk = max(1, _CELLS_PER_CHUNK // max(1, len(labels)))
    done = 0
    while done < samples:
        rows = min(chunk, samples - done)
        yield _draw(rng, positives, rows), _draw(rng, negatives, rows)
        done += rows


def _draw(rng: np.random.Generator, members: np.ndarray, rows: int) -> np.ndarray:
    """`rows` resamples of `members` with replacement, each as large as `members`."""
    if len(members) == 0:
        return np.empty((rows, 0), dtype=np.int64)
    return members[rng.integers(0, len(members), size=(rows, len(members)))]


def paired_average_precision_drop(
    labels: np.ndarray,
    candidate_scores: np.ndarray,
    baseline_scores: np.ndarray,
    samples: int,
    seed: int,
    confidence: float,
) -> Tuple[float, float, Interval]:
    """Candidate's and baseline's average precision, and the percentile interval of the paired drop."""
    candidate = average_precision(labels, candidate_scores)
    baseline = average_precision(labels, baseline_scores)
    drops = np.concatenate(
        [
            resampled_average_precision(labels, baseline_scores, *draws)
            - resampled_average_precision(labels, candidate_scores, *draws)
            for draws in bootstrap_draws(labels, samples, seed)
        ]
    )
    alpha = 1.0 - confidence
    lower, upper = np.quantile(drops, [alpha / 2.0, 1.0 - alpha / 2.0])
    return candidate, baseline, (float(lower), float(upper))


def compare(
    labels: np.ndarray,
    candidate: Mapping[str, np.ndarray],
    baseline: Mapping[str, np.ndarray],
    *,
    samples: int,
    seed: int,
    confidence: float,
) -> PairedComparison:
    """The paired comparison of two models' `probability` and `decision` (0/1) on the same labelled examples."""
    labels = np.asarray(labels).astype(np.int64)
    if labels.ndim != 1 or not np.isin(labels, (0, 1)).all():
        raise GateInputError("the eval labels must be one 0/1 label per example for the paired comparison")
    positive = labels == 1
    if not positive.any():
        raise GateInputError("the eval split has no positives: recall cannot be compared with the baseline")
    candidate_caught = np.asarray(candidate["decision"]).ravel()[positive] >= 0.5
    baseline_caught = np.asarray(baseline["decision"]).ravel()[positive] >= 0.5
    candidate_only = int(np.sum(candidate_caught & ~baseline_caught))
    baseline_only = int(np.sum(baseline_caught & ~candidate_caught))
    positives = int(positive.sum())
    drop, interval, p_value = mcnemar_drop(candidate_only, baseline_only, positives, confidence)
    candidate_ap, baseline_ap, ap_interval = paired_average_precision_drop(
        labels,
        np.asarray(candidate["probability"], dtype=np.float64).ravel(),
        np.asarray(baseline["probability"], dtype=np.float64).ravel(),
        samples,
        seed,
        confidence,
    )
    return PairedComparison(
        examples=len(labels),
        positives=positives,
        caught_by_both=int(np.sum(candidate_caught & baseline_caught)),
        candidate_only=candidate_only,
        baseline_only=baseline_only,
        missed_by_both=int(np.sum(~candidate_caught & ~baseline_caught)),
        recall_drop=drop,
        recall_drop_interval=interval,
        mcnemar_p_value=p_value,
        candidate_average_precision=candidate_ap,
        baseline_average_precision=baseline_ap,
        average_precision_drop=baseline_ap - candidate_ap,
        average_precision_drop_interval=ap_interval,
        bootstrap_samples=samples,
        seed=seed,
        confidence=confidence,
    )


def check_matches_evaluation(
    comparison: PairedComparison, candidate_overall: Mapping[str, float], baseline_overall: Mapping[str, float]
) -> None:
    """The gate's own scoring must reproduce the Evaluator's overall counts: same examples, same models."""
    expected = {
        "positives": candidate_overall[spec.TRUE_POSITIVES] + candidate_overall[spec.FALSE_NEGATIVES],
        "candidate true positives": candidate_overall[spec.TRUE_POSITIVES],
        "baseline true positives": baseline_overall[spec.TRUE_POSITIVES],
    }
    found = {
        "positives": comparison.positives,
        "candidate true positives": comparison.caught_by_both + comparison.candidate_only,
        "baseline true positives": comparison.caught_by_both + comparison.baseline_only,
    }
    differing = {name: (found[name], expected[name]) for name in expected if round(expected[name]) != found[name]}
    if differing:
        raise GateInputError(
            f"the gate's scoring of the eval split does not reproduce the Evaluator's counts (gate, Evaluator): "
            f"{differing}; give the gate the same examples, split and models as the Evaluator"
        )
