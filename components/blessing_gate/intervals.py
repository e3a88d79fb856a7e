"""Confidence intervals for the metrics the gate judges, from counts the Evaluator already computed.

Why analytic and not TFMA's `compute_confidence_intervals`: in TFMA 0.47 that option draws a
fixed 20 Poisson-bootstrap replicates (or 20 jackknife buckets) from an unseeded random state
(the TFX Evaluator passes no seed), so rerunning the Evaluator on the same model and data moves
the bounds, and a verdict near a bound could flip between reruns; 20 replicates also say little
about a slice holding five positives. Measured on the gate tests' 640-row eval split: two
Evaluator runs of the same model gave recall on one slice 0.860-0.997 then 0.844-0.978
(bootstrap), 0.844-0.981 then 0.822-1.003 (jackknife, past 1), and the Evaluator's CPU time
went from 3-6 s to 19-27 s. The intervals here are deterministic, cost nothing in the
Evaluator, and read only per-slice numbers TFMA writes anyway:

- recall and precision at the served threshold: exact Clopper–Pearson intervals from the
  confusion counts (recall = TP / (TP + FN), precision = TP / (TP + FP)) — binomial proportions,
  for which an exact interval exists;
- ROC-AUC: Hanley & McNeil (1982), a normal interval whose standard error depends on the AUC and
  the numbers of positives and negatives; with rare positives it is dominated by the positives.
  Its exponential model errs wide: on the tests' binormal prediction set (25 positives) its
  standard error is 1.4 times the bootstrap's, so an AUC FAIL is a safe call and an UNCERTAIN may
  be one a tighter interval would call FAIL (a DeLong interval would need per-example scores);
- PR-AUC: the logit interval of Boyd, Eng & Page (2013), expit(logit(θ) ± z / sqrt(n_pos θ (1 - θ))),
  one of the cheap intervals they found to cover well; within 0.02 of the bootstrap's bounds at
  25 positives in the tests.

The two AUC intervals rest on normal approximations; the gate's floor of positives per slice
(`min_slice_positives`) keeps them away from slices too small for that. The tests check them
against a bootstrap of a fixed prediction set. `regression` has the paired intervals.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

from scipy import stats

Interval = Tuple[float, float]

CLOPPER_PEARSON = "Clopper-Pearson"
HANLEY_MCNEIL = "Hanley-McNeil"
LOGIT = "logit (Boyd et al.)"


def _check_confidence(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return 1.0 - confidence


def z_value(confidence: float) -> float:
    """The two-sided normal quantile: 1.96 at 0.95."""
    return float(stats.norm.ppf(1.0 - _check_confidence(confidence) / 2.0))


def clopper_pearson(successes: int, trials: int, confidence: float) -> Optional[Interval]:
    """Exact two-sided interval for a binomial proportion; None without trials.

    The same interval as `scipy.stats.binomtest(successes, trials).proportion_ci(confidence, "exact")`,
    written with the beta quantiles so it is plain to read.
    """
    alpha = _check_confidence(confidence)
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if trials == 0:
        return None
    lower = 0.0 if successes == 0 else float(stats.beta.ppf(alpha / 2.0, successes, trials - successes + 1))
    upper = 1.0 if successes == trials else float(stats.beta.ppf(1.0 - alpha / 2.0, successes + 1, trials - successes))
    return lower, upper


def hanley_mcneil(auc: float, positives: int, negatives: int, confidence: float) -> Optional[Interval]:
    """ROC-AUC ± z·SE with the Hanley–McNeil standard error, clipped to [0, 1]; None if undefined.

    SE² = [A(1−A) + (n₊−1)(Q₁−A²) + (n₋−1)(Q₂−A²)] / (n₊ n₋), with Q₁ = A/(2−A) and Q₂ = 2A²/(1+A).
    """
    z = z_value(confidence)
    if positives < 1 or negatives < 1 or not math.isfinite(auc) or not 0.0 <= auc <= 1.0:
        return None
    q1 = auc / (2.0 - auc)
    q2 = 2.0 * auc * auc / (1.0 + auc)
    variance = (auc * (1.0 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)) / (
        positives * negatives
    )
    half_width = z * math.sqrt(max(variance, 0.0))
    return max(0.0, auc - half_width), min(1.0, auc + half_width)


def logit_interval(pr_auc: float, positives: int, confidence: float) -> Optional[Interval]:
    """PR-AUC's logit interval; None without positives or at exactly 0 or 1, where the logit is infinite."""
    z = z_value(confidence)
    if positives < 1 or not math.isfinite(pr_auc) or not 0.0 < pr_auc < 1.0:
        return None
    center = math.log(pr_auc / (1.0 - pr_auc))
    half_width = z / math.sqrt(positives * pr_auc * (1.0 - pr_auc))
    return _expit(center - half_width), _expit(center + half_width)


def _expit(value: float) -> float:
    """1 / (1 + e^-x) without overflow: e^-x of a large negative x would overflow, so use e^x / (1 + e^x) there."""
    if value >= 0.0:
        return 1.0 / (1.0 + math.exp(-value))
    exponential = math.exp(value)
    return exponential / (1.0 + exponential)
