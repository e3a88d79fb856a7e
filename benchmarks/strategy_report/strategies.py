"""The imbalance strategies the report compares, and what each one changes in the config."""

from __future__ import annotations

import dataclasses
import math
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
    # What the strategy does to a multiclass label (k >= 3 classes); empty: binary only, for the
    # reason in `binary_only` (the Trainer refuses the setting for k classes).
    multiclass: str = ""
    binary_only: str = ""

    def describe(self, multiclass: bool) -> str:
        """The strategy's one-line description for a binary or a multiclass label."""
        return self.multiclass if multiclass else self.description


# The auc_loss row's guaranteed positives per batch (`trainer.min_batch_positives`): 2 ranked as well
# as 8 and 32 on credit card, with the higher ROC-AUC (benchmarks/RESULTS.md, "AUC loss").
AUC_LOSS_BATCH_POSITIVES = 2
# The mixed_ensemble row's members: the example of an ensemble over differently rebalanced data.
MIXED_ENSEMBLE_RECIPES = ("none", "oversample:0.1", "undersample:1.0")

# Resampling strategies train with plain `bce`: the resampled mix is the treatment, and class
# weights on top would correct for the imbalance twice. For a multiclass label Rebalance takes
# per-class targets (`multiclass_target_counts`): target_ratio is a minority/majority ratio.
_GROW = "every class under target_ratio x the largest grown to it"


def _random_forest(
    model: str, description: str, multiclass: str, trainer: Tuple[Tuple[str, Any], ...] = ()
) -> Strategy:
    """The strategy of `trainer.model=model`, a random-forest family, with no other change."""
    return Strategy(model, description, trainer=trainer, model=model, multiclass=multiclass)


def _resampled(rebalance: str, binary: str, multiclass: str) -> Strategy:
    """The strategy of Rebalance `rebalance` followed by plain cross-entropy; `binary` and `multiclass` say how."""
    return Strategy(
        rebalance,
        f"Rebalance {binary}, then plain bce",
        rebalance=rebalance,
        trainer=(("loss", "bce"),),
        multiclass=f"Rebalance {multiclass}, then plain cross-entropy",
    )


STRATEGIES: Tuple[Strategy, ...] = (
    Strategy(
        "none",
        "plain cross-entropy, output bias log(pos/neg)",
        trainer=(("loss", "bce"),),
        multiclass="plain softmax cross-entropy, output bias the log class priors",
    ),
    Strategy(
        "class_weights",
        "balanced class weights n/(2*count_c)",
        trainer=(("loss", "weighted_bce"),),
        multiclass="balanced class weights n/(k*count_c)",
    ),
    Strategy(
        "pos_weight",
        "weighted_cross_entropy_with_logits, pos_weight=neg/pos",
        trainer=(("loss", "pos_weight"),),
        binary_only="pos_weight weighs the one positive class (trainer.loss=pos_weight is binary only)",
    ),
    Strategy(
        "focal",
        "focal loss (alpha, gamma from the config)",
        trainer=(("loss", "focal"),),
        multiclass="multiclass focal loss (per-class alpha: trainer.focal_alpha_classes or balanced; gamma from the "
        "config)",
    ),
    Strategy(
        "auc_loss",
        f"pairwise AUC surrogate mixed with bce (auc_bce_weight from the config), every batch topped up to "
        f">= {AUC_LOSS_BATCH_POSITIVES} positives",
        trainer=(("loss", "auc"), ("min_batch_positives", AUC_LOSS_BATCH_POSITIVES)),
        binary_only="the AUC surrogate ranks positive-negative pairs (trainer.loss=auc is binary only)",
    ),
    _resampled(
        "undersample",
        "undersample",
        "undersample (every class over the smallest / target_ratio cut to it)",
    ),
    _resampled("oversample", "oversample", f"oversample ({_GROW} by copies)"),
    _resampled("smote", "SMOTE", f"SMOTE ({_GROW} by interpolation within the class)"),
    _resampled(
        "augment_noise",
        "augment_noise (minority rows + Gaussian noise, sigma = noise_scale x class std)",
        f"augment_noise ({_GROW}: rows + Gaussian noise, sigma = noise_scale x class std)",
    ),
    _resampled(
        "mixup",
        "mixup (lam*a + (1-lam)*b of two minority rows, lam ~ Beta(mixup_alpha) folded)",
        f"mixup ({_GROW}: lam*a + (1-lam)*b of two rows of the class)",
    ),
    Strategy(
        "balanced_batches",
        "batches drawn with batch_positive_share positives, plain bce",
        trainer=(("loss", "bce"), ("balanced_batches", True)),
        multiclass="batches drawn with each of the k classes an equal share (1/k), plain cross-entropy",
    ),
    Strategy(
        "ensemble",
        "balanced bagging: members on all positives + a seeded share of negatives, bce",
        trainer=(("loss", "bce"), ("ensemble_majority_fraction", 0.1)),
        ensemble=True,
        multiclass="balanced bagging over k classes: members on every row of the other classes + a seeded 10% of "
        "the largest, cross-entropy, probabilities averaged",
    ),
    Strategy(
        "seed_bagging",
        "members on every row, each with its own initial weights and batch order; bce, probabilities averaged",
        trainer=(("loss", "bce"), ("ensemble_majority_fraction", 1.0)),
        ensemble=True,
        multiclass="members on every row, each with its own initial weights and batch order; cross-entropy, "
        "probabilities averaged",
    ),
    Strategy(
        "mixed_ensemble",
        "one member each on every row, on positives oversampled to 0.1 x negatives and on negatives undersampled "
        "to 1 x positives (in the Trainer), bce, probabilities averaged",
        trainer=(("loss", "bce"), ("ensemble_recipes", MIXED_ENSEMBLE_RECIPES), ("ensemble_combine", "mean")),
        binary_only="member recipes resample positives against negatives (trainer.ensemble_recipes is binary only)",
    ),
    # The tree family (trainer.model=gbt): imbalance left to the decision rule tuned on valid (a threshold,
    # or k class weights), or weighted too.
    Strategy(
        "gbt",
        "gradient-boosted trees (TF-DF), unweighted; the tuned threshold absorbs the imbalance",
        trainer=(("gbt_example_weights", "none"),),
        model="gbt",
        multiclass="gradient-boosted trees (TF-DF, k trees per iteration, softmax), unweighted; the class weights "
        "tuned on valid absorb the imbalance",
    ),
    Strategy(
        "gbt_weighted",
        "gradient-boosted trees with balanced example weights n/(2*count_c)",
        trainer=(("gbt_example_weights", "balanced"),),
        model="gbt",
        multiclass="gradient-boosted trees (TF-DF, k trees per iteration, softmax) with balanced example weights "
        "n/(k*count_c)",
    ),
    Strategy(
        "mlp_gbt",
        "the balanced-bagging MLP ensemble and the trees (trainer.gbt_* as configured), probabilities averaged",
        trainer=(("loss", "bce"), ("ensemble_majority_fraction", 0.1)),
        ensemble=True,
        model="mlp_gbt",
        multiclass="the balanced-bagging MLP ensemble (largest class subsampled) and the trees (trainer.gbt_* as "
        "configured), class probabilities averaged",
    ),
    # The random forest (trainer.model=rf): unweighted, the tuned threshold absorbs the imbalance.
    _random_forest(
        "rf",
        "random forest (TF-DF, trainer.rf_* as configured), unweighted; the tuned threshold absorbs the imbalance",
        "random forest (TF-DF), unweighted; the class weights tuned on valid absorb the imbalance",
    ),
    _random_forest(
        "mlp_rf",
        "one MLP (plain bce) and the random forest, probabilities averaged",
        "one softmax MLP (plain cross-entropy) and the random forest, class probabilities averaged",
        (("loss", "bce"),),
    ),
    Strategy(
        "seed_bagging_rf",
        "seed-bagged MLP members (every row; plain bce) and the random forest: the members' mean probability "
        "averaged with the forest's",
        trainer=(("loss", "bce"), ("ensemble_majority_fraction", 1.0)),
        ensemble=True,
        model="mlp_rf",
        multiclass="seed-bagged softmax MLP members (every row; plain cross-entropy) and the random forest, class "
        "probabilities averaged",
    ),
)
STRATEGY_NAMES = tuple(strategy.name for strategy in STRATEGIES)


def selected_strategies(text: Optional[str], multiclass: bool = False) -> Tuple[List[Strategy], List[str]]:
    """The strategies named in `--strategies` (comma-separated, in that order), and one line per one skipped.

    No list (None) means every strategy that applies to the label: for a multiclass label the
    binary-only ones are skipped, each with a line saying why. Naming one of them is refused.
    """
    names = list(STRATEGY_NAMES) if text is None else [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in STRATEGY_NAMES]
    if unknown or not names:
        raise StrategyReportError(
            f"--strategies: unknown {unknown or 'empty list'}; choose from {', '.join(STRATEGY_NAMES)}"
        )
    if len(set(names)) != len(names):
        raise StrategyReportError(f"--strategies names a strategy twice: {names}")
    by_name = {strategy.name: strategy for strategy in STRATEGIES}
    chosen = [by_name[name] for name in names]
    if not multiclass:
        return chosen, []
    binary = [strategy for strategy in chosen if not strategy.multiclass]
    if binary and text is not None:
        reasons = "; ".join(f"{strategy.name}: {strategy.binary_only}" for strategy in binary)
        raise StrategyReportError(f"--strategies names binary-only strategies for a multiclass label ({reasons})")
    skipped = [f"[{strategy.name}] skipped: {strategy.binary_only}; the label is multiclass" for strategy in binary]
    return [strategy for strategy in chosen if strategy.multiclass], skipped


def multiclass_target_counts(
    train_counts: Mapping[int, int], strategy: str, target_ratio: float
) -> Tuple[Tuple[str, int], ...]:
    """Rebalance's per-class targets for a multiclass label, from the binary knob `target_ratio`.

    Resampling then leaves every class at >= target_ratio x the largest, as the binary strategies
    leave minority/majority at target_ratio: undersample cuts every class above
    ceil(smallest / target_ratio) to that count; the strategies that add rows (oversample, smote,
    augment_noise, mixup) grow every class below ceil(target_ratio x largest) to that count.
    Classes not named keep their rows (Rebalance's rule for `target_counts`).
    """
    counts = {int(label): int(count) for label, count in train_counts.items() if int(count) > 0}
    if strategy == "undersample":
        cap = math.ceil(min(counts.values()) / target_ratio)
        return tuple((str(label), cap) for label, count in sorted(counts.items()) if count > cap)
    floor = math.ceil(target_ratio * max(counts.values()))
    return tuple((str(label), floor) for label, count in sorted(counts.items()) if count < floor)


def strategy_config(
    base: PipelineConfig, strategy: Strategy, train_counts: Optional[Mapping[int, int]] = None
) -> PipelineConfig:
    """The base config with only what `strategy` changes: the family, loss, batches, ensemble or Rebalance strategy.

    Tree settings other than the example weights (`--set trainer.gbt_num_trees=...`) come from the base config.
    A multiclass resampling strategy gets `multiclass_target_counts` of the training split's
    `train_counts`, unless `--set rebalance.target_counts=...` gave targets.
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
    if base.multiclass and strategy.rebalance and rebalance.target_counts is None:
        if not train_counts:
            raise StrategyReportError(f"[{strategy.name}] a multiclass resampling strategy needs the training counts")
        targets = multiclass_target_counts(train_counts, strategy.rebalance, rebalance.target_ratio)
        rebalance = dataclasses.replace(rebalance, target_counts=targets or None)
    return dataclasses.replace(base, trainer=dataclasses.replace(base.trainer, **trainer), rebalance=rebalance)


def class_counts(
    strategy: Strategy,
    config: PipelineConfig,
    training_report: Mapping[str, Any],
    rebalance_summary: Optional[Mapping[str, Any]],
) -> Dict[str, Any]:
    """Training-split class counts before and after resampling, and what the model sees per epoch."""
    if config.multiclass:
        return _multiclass_counts(strategy, config, training_report, rebalance_summary)
    if rebalance_summary is not None:
        before, after = _rebalanced_counts(rebalance_summary)
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
            note = _members_note(config, f"every positive and ~{fraction:.0%} of negatives")
            if config.trainer.model == "mlp_gbt":
                note += "; the trees on every row"
            after = {"0": round(before["0"] * fraction), "1": before["1"]}
    return {"before": before, "after": after, "note": note}


def _rebalanced_counts(rebalance_summary: Mapping[str, Any]) -> Tuple[Dict[str, int], Dict[str, int]]:
    """The training split's class counts before and after Rebalance, as its summary records them."""
    split = rebalance_summary["splits"]["train"]
    return (
        {str(k): int(v) for k, v in split["before"].items()},
        {str(k): int(v) for k, v in split["after"].items()},
    )


def _members_note(config: PipelineConfig, subsampled: str) -> str:
    """What each ensemble member trains on: every row, or `subsampled` when it draws a share of the majority."""
    members = config.trainer.ensemble_members
    if config.trainer.ensemble_majority_fraction >= 1.0:
        return f"{members} members, each on every row"
    return f"{members} members, each on {subsampled}"


def _multiclass_counts(
    strategy: Strategy,
    config: PipelineConfig,
    training_report: Mapping[str, Any],
    rebalance_summary: Optional[Mapping[str, Any]],
) -> Dict[str, Any]:
    """`class_counts` for a multiclass label: keyed by class index as text ("0".."k-1"), as Rebalance counts."""
    if rebalance_summary is not None:
        before, after = _rebalanced_counts(rebalance_summary)
        targets = dict(config.rebalance.target_counts or ())
        return {"before": before, "after": after, "note": f"Rebalance {strategy.rebalance}, target_counts {targets}"}
    by_name = training_report["train_class_counts"]
    before = {str(index): int(by_name[name]) for index, name in enumerate(config.class_names)}
    after, note = dict(before), "no resampling"
    k, rows = len(before), sum(before.values())
    if config.trainer.model == "gbt" and config.trainer.gbt_example_weights == "balanced":
        note = "no resampling; balanced example weights n/(k*count_c)"
    elif config.trainer.balanced_batches:
        note = f"batches drawn with each of the {k} classes an equal share (rows repeat); files unchanged"
        after = {label: round(rows / k) for label in before}
    elif config.trainer.ensemble_members > 1:
        fraction = config.trainer.ensemble_majority_fraction
        # The largest class (the first of equals) is the one a member subsamples.
        largest = max(before, key=lambda label: (before[label], -int(label)))
        note = _members_note(
            config, f"every row of the other classes and ~{fraction:.0%} of class {config.class_names[int(largest)]!r}"
        )
        if config.trainer.model == "mlp_gbt":
            note += "; the trees on every row"
        after[largest] = round(before[largest] * fraction)
    return {"before": before, "after": after, "note": note}
