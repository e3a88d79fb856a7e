"""The imbalance strategies the report compares, and what each one changes in the config."""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Mapping, Optional, Tuple

from pipeline.config import PipelineConfig
from pipeline.errors import UserInputError


class StrategyReportError(UserInputError):
    """A bad argument or input of the strategy report, with what to do about it."""


@dataclasses.dataclass(frozen=True)
class Strategy:
    """One way of handling the imbalance: a Rebalance strategy (or none) plus Trainer settings."""

    name: str
    description: str
    rebalance: Optional[str] = None
    trainer: Tuple[Tuple[str, Any], ...] = ()
    # Trains trainer.ensemble_members members (--ensemble-members), else one model.
    ensemble: bool = False
    # The Trainer's model family (trainer.model): the MLP, gradient-boosted trees, or both averaged.
    model: str = "mlp"


# The auc_loss row's guaranteed positives per batch (`trainer.min_batch_positives`): 2 ranked as well
# as 8 and 32 on credit card, with the higher ROC-AUC (benchmarks/RESULTS.md, "AUC loss").
AUC_LOSS_BATCH_POSITIVES = 2
# The mixed_ensemble row's members: the example of an ensemble over differently rebalanced data.
MIXED_ENSEMBLE_RECIPES = ("none", "oversample:0.1", "undersample:1.0")

# Resampling strategies train with plain `bce`: the resampled mix is the treatment, and class
# weights on top would correct for the imbalance twice.
STRATEGIES: Tuple[Strategy, ...] = (
    Strategy("none", "plain cross-entropy, output bias log(pos/neg)", trainer=(("loss", "bce"),)),
    Strategy("class_weights", "balanced class weights n/(2*count_c)", trainer=(("loss", "weighted_bce"),)),
    Strategy("pos_weight", "weighted_cross_entropy_with_logits, pos_weight=neg/pos", trainer=(("loss", "pos_weight"),)),
    Strategy("focal", "focal loss (alpha, gamma from the config)", trainer=(("loss", "focal"),)),
    Strategy(
        "auc_loss",
        f"pairwise AUC surrogate mixed with bce (auc_bce_weight from the config), every batch topped up to "
        f">= {AUC_LOSS_BATCH_POSITIVES} positives",
        trainer=(("loss", "auc"), ("min_batch_positives", AUC_LOSS_BATCH_POSITIVES)),
    ),
    Strategy(
        "undersample", "Rebalance undersample, then plain bce", rebalance="undersample", trainer=(("loss", "bce"),)
    ),
    Strategy("oversample", "Rebalance oversample, then plain bce", rebalance="oversample", trainer=(("loss", "bce"),)),
    Strategy("smote", "Rebalance SMOTE, then plain bce", rebalance="smote", trainer=(("loss", "bce"),)),
    Strategy(
        "augment_noise",
        "Rebalance augment_noise (minority rows + Gaussian noise, sigma = noise_scale x class std), then plain bce",
        rebalance="augment_noise",
        trainer=(("loss", "bce"),),
    ),
    Strategy(
        "mixup",
        "Rebalance mixup (lam*a + (1-lam)*b of two minority rows, lam ~ Beta(mixup_alpha) folded), then plain bce",
        rebalance="mixup",
        trainer=(("loss", "bce"),),
    ),
    Strategy(
        "balanced_batches",
        "batches drawn with batch_positive_share positives, plain bce",
        trainer=(("loss", "bce"), ("balanced_batches", True)),
    ),
    Strategy(
        "ensemble",
        "balanced bagging: members on all positives + a seeded share of negatives, bce",
        trainer=(("loss", "bce"), ("ensemble_majority_fraction", 0.1)),
        ensemble=True,
    ),
    Strategy(
        "seed_bagging",
        "members on every row, each with its own initial weights and batch order; bce, probabilities averaged",
        trainer=(("loss", "bce"), ("ensemble_majority_fraction", 1.0)),
        ensemble=True,
    ),
    Strategy(
        "mixed_ensemble",
        "one member each on every row, on positives oversampled to 0.1 x negatives and on negatives undersampled "
        "to 1 x positives (in the Trainer), bce, probabilities averaged",
        trainer=(("loss", "bce"), ("ensemble_recipes", MIXED_ENSEMBLE_RECIPES), ("ensemble_combine", "mean")),
    ),
    # The tree family (trainer.model=gbt): imbalance left to the threshold tuned on valid, or weighted too.
    Strategy(
        "gbt",
        "gradient-boosted trees (TF-DF), unweighted; the tuned threshold absorbs the imbalance",
        trainer=(("gbt_example_weights", "none"),),
        model="gbt",
    ),
    Strategy(
        "gbt_weighted",
        "gradient-boosted trees with balanced example weights n/(2*count_c)",
        trainer=(("gbt_example_weights", "balanced"),),
        model="gbt",
    ),
    Strategy(
        "mlp_gbt",
        "the balanced-bagging MLP ensemble and the trees (trainer.gbt_* as configured), probabilities averaged",
        trainer=(("loss", "bce"), ("ensemble_majority_fraction", 0.1)),
        ensemble=True,
        model="mlp_gbt",
    ),
)
STRATEGY_NAMES = tuple(strategy.name for strategy in STRATEGIES)


def selected_strategies(text: str) -> List[Strategy]:
    """The strategies named in `--strategies` (comma-separated), in that order."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in STRATEGY_NAMES]
    if unknown or not names:
        raise StrategyReportError(
            f"--strategies: unknown {unknown or 'empty list'}; choose from {', '.join(STRATEGY_NAMES)}"
        )
    if len(set(names)) != len(names):
        raise StrategyReportError(f"--strategies names a strategy twice: {names}")
    by_name = {strategy.name: strategy for strategy in STRATEGIES}
    return [by_name[name] for name in names]


def strategy_config(base: PipelineConfig, strategy: Strategy) -> PipelineConfig:
    """The base config with only what `strategy` changes: the family, loss, batches, ensemble or Rebalance strategy.

    Tree settings other than the example weights (`--set trainer.gbt_num_trees=...`) come from the base config.
    """
    trainer = dict(strategy.trainer)
    # How batches are drawn and which members train are part of a strategy, never inherited from the base.
    trainer.setdefault("balanced_batches", False)
    trainer.setdefault("min_batch_positives", 0)
    trainer.setdefault("ensemble_recipes", ())
    trainer.setdefault("ensemble_combine", "mean")
    trainer["model"] = strategy.model
    trainer["ensemble_members"] = base.trainer.ensemble_members if strategy.ensemble else 1
    rebalance = dataclasses.replace(base.rebalance, strategy=strategy.rebalance or "none")
    return dataclasses.replace(base, trainer=dataclasses.replace(base.trainer, **trainer), rebalance=rebalance)


def class_counts(
    strategy: Strategy,
    config: PipelineConfig,
    training_report: Mapping[str, Any],
    rebalance_summary: Optional[Mapping[str, Any]],
) -> Dict[str, Any]:
    """Training-split class counts before and after resampling, and what the model sees per epoch."""
    if rebalance_summary is not None:
        split = rebalance_summary["splits"]["train"]
        before = {str(k): int(v) for k, v in split["before"].items()}
        after = {str(k): int(v) for k, v in split["after"].items()}
        note = f"Rebalance {strategy.rebalance}, target_ratio {config.rebalance.target_ratio:g}"
    else:
        positives = int(training_report["train_positives"])
        before = {"0": int(training_report["train_rows"]) - positives, "1": positives}
        after = dict(before)
        note = "no resampling"
        if config.trainer.model == "gbt" and config.trainer.gbt_example_weights == "balanced":
            note = "no resampling; balanced example weights n/(2*count_c)"
        elif config.trainer.ensemble_recipes:
            recipes = ", ".join(config.trainer.ensemble_recipes)
            note = f"{len(config.trainer.ensemble_recipes)} members ({recipes}), {config.trainer.ensemble_combine}"
            if "member_class_counts" in training_report:
                per_member = "; ".join(f"{c['1']}+{c['0']}" for c in training_report["member_class_counts"])
                note += f"; positives+negatives per member: {per_member}"
        elif config.trainer.min_batch_positives:
            note = f"no resampling; every batch topped up to >= {config.trainer.min_batch_positives} positives"
        elif config.trainer.balanced_batches:
            share = config.trainer.batch_positive_share
            note = f"batches drawn with {share:.0%} positives (positives repeat); files unchanged"
            rows = sum(before.values())
            after = {"0": round(rows * (1 - share)), "1": round(rows * share)}
        elif config.trainer.ensemble_members > 1:
            fraction = config.trainer.ensemble_majority_fraction
            members = config.trainer.ensemble_members
            note = (
                f"{members} members, each on every row"
                if fraction >= 1.0
                else f"{members} members, each on every positive and ~{fraction:.0%} of negatives"
            )
            if config.trainer.model == "mlp_gbt":
                note += "; the trees on every row"
            after = {"0": round(before["0"] * fraction), "1": before["1"]}
    return {"before": before, "after": after, "note": note}
