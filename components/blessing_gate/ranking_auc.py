"""ROC-AUC and PR-AUC for scores that crowd near 0 or 1: TFMA's AUC on a finer grid of thresholds.

TFMA's AUC cuts the scores at 10,000 thresholds evenly spaced in probability and counts the
positives and negatives between two cuts as ties. A model trained on rare positives scores most
rows below 1e-3, so that grid puts ~90% of the negatives and the lowest-scored positives into its
first bucket: on the credit-card eval split it read a ROC-AUC of 0.975 for a model whose exact
ROC-AUC is 0.984. `RankingAUC` is TFMA's AUC with `RANKING_THRESHOLDS` instead: TFMA's own grid,
for the middle (where multiclass probabilities sit), joined with one evenly spaced in log-odds, which
keeps every bucket a fixed relative width in the tails. The thresholds live here, not in the
EvalConfig: the EvalConfig travels as an exec property (on Kubeflow, inside one command-line
argument, at most 128 KiB), and 20,000 numbers would not fit.
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

import tensorflow_model_analysis as tfma

# TFMA's default grid: 10,000 thresholds evenly spaced in probability.
LINEAR_COUNT = 10_000
# As many evenly spaced in log-odds over probabilities 1.4e-11 to 1 - 4e-8 (the float32 sigmoid's
# useful range): 0.004 apart in log-odds, so each bucket is 0.4% of its probability in the low tail.
LOG_ODDS_COUNT = 10_000
LOG_ODDS_RANGE = (-25.0, 17.0)


def ranking_thresholds(
    linear_count: int = LINEAR_COUNT,
    log_odds_count: int = LOG_ODDS_COUNT,
    log_odds: Tuple[float, float] = LOG_ODDS_RANGE,
) -> List[float]:
    """Increasing probabilities in (0, 1): TFMA's linear grid joined with a log-odds grid."""
    low, high = log_odds
    step = (high - low) / (log_odds_count - 1)
    tails = (1.0 / (1.0 + math.exp(-(low + index * step))) for index in range(log_odds_count))
    middle = (index / (linear_count - 1) for index in range(1, linear_count - 1))
    return sorted({*tails, *middle} - {0.0, 1.0})


RANKING_THRESHOLDS = ranking_thresholds()


class RankingAUC(tfma.metrics.AUC):
    """TFMA's AUC (`curve` ROC or PR) computed at `RANKING_THRESHOLDS` unless thresholds are given."""

    def __init__(self, thresholds: Optional[Sequence[float]] = None, **kwargs):
        super().__init__(thresholds=list(RANKING_THRESHOLDS if thresholds is None else thresholds), **kwargs)

    def get_config(self):
        """The config without the thresholds when they are the default ones (TFMA re-creates metrics from it)."""
        config = super().get_config()
        if config.get("thresholds") == RANKING_THRESHOLDS:
            del config["thresholds"]
        return config
