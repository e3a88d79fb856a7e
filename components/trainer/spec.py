"""The Trainer's settings as `run_fn` receives them in `custom_config`: every default and check, written once.

The Trainer is TFX's stock component; what this project adds travels in its `custom_config`:
the data set's names (the label and the model's inputs as the Transform writes them) and
`TrainerParameters`. `TrainerRunConfig` encodes both for the pipeline and decodes them in
`run_fn`, so the two sides share one format.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Mapping, Optional, Tuple

from components.common.parameters import (
    ComponentParameters,
    ParameterError,
    require,
    require_choice,
    require_fraction,
)
from components.trainer.member_recipes import check_ensemble_settings

DEFAULT_SEED = 42

# `auc`: a pairwise ROC-AUC surrogate mixed with BCE (`auc_loss.py`), binary only.
LOSSES = ("bce", "weighted_bce", "pos_weight", "focal", "auc")
# loss=auc's share of BCE: the lowest share that kept credit-card PR-AUC within 0.01 of BCE on the
# same batches with both seeds tried; 0.5 and less lost 0.1 with one seed or both (benchmarks/RESULTS.md).
AUC_BCE_WEIGHT = 0.75
# Model families: the MLP (ensemble), gradient-boosted trees or a random forest (TF-DF), or the MLP and
# one tree family with their probabilities averaged.
MODELS = ("mlp", "gbt", "mlp_gbt", "rf", "mlp_rf")
# The models that train the MLP, and the tree family each model trains, if any.
MLP_MODELS = ("mlp", "mlp_gbt", "mlp_rf")
TREE_FAMILIES = {"gbt": "gbt", "mlp_gbt": "gbt", "rf": "rf", "mlp_rf": "rf"}
GBT_EXAMPLE_WEIGHTS = ("none", "balanced")
# How mlp_gbt and mlp_rf join the two families (`trees.train_family`).
FAMILY_BLENDS = ("probability", "logit")
THRESHOLD_RULES = ("max_f1", "max_precision_at_recall", "max_recall_at_precision")

# The module path the stock Trainer imports `run_fn` from.
RUN_FN = "components.trainer.model.run_fn"


@dataclasses.dataclass(frozen=True)
class TrainerParameters(ComponentParameters):
    """Model, loss and training-loop settings of the Trainer."""

    SECTION = "trainer"

    # The model family: one MLP and a random forest, probabilities averaged. On credit card,
    # hypothyroid, abalone 17 and page blocks it ranked above the MLP alone with every training seed
    # tried, and best and steadiest on credit card (PR-AUC 0.836-0.840 over three seeds); the forest
    # alone led on the three small tables (benchmarks/RESULTS.md, "Random forest beside the MLP").
    model: str = "mlp_rf"
    # Plain BCE with the initial bias: weighting the loss ranked worse (benchmarks/RESULTS.md).
    loss: str = "bce"
    pos_weight: Optional[float] = None  # None: negatives/positives from the training counts.
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    # Multiclass focal loss's per-class alpha, one value per class in class-index order; empty (the
    # default) means "balanced": alpha_c proportional to 1 / count_c of the rows trained on,
    # normalised to sum 1. `focal_alpha` is the binary loss's alone.
    focal_alpha_classes: Tuple[float, ...] = ()
    initial_bias: bool = True
    # (128, 64) ranked the positives better than (64, 32) with every seed set tried (benchmarks/RESULTS.md).
    hidden_units: Tuple[int, ...] = (128, 64)
    dropout: float = 0.1
    learning_rate: float = 1e-3
    batch_size: int = 1024
    max_epochs: int = 30
    early_stopping_patience: int = 4
    # The highest recall whose precision on `valid` is >= threshold_min_precision: on fraud-like data
    # a missed positive costs more than a reviewed false alarm.
    threshold_rule: str = "max_recall_at_precision"
    threshold_min_recall: float = 0.85
    threshold_min_precision: float = 0.5
    # What to do when no threshold meets the rule: apply another rule, or "error".
    threshold_fallback: str = "max_f1"
    # Multiclass decision rule (`decision_rule.py`): the recall each unprotected class may lose on
    # `valid` against the plain argmax while the weights raise the protected classes' recall.
    decision_max_recall_loss: float = 0.05
    # Draw every batch with `batch_positive_share` positives instead of the data's own mix.
    balanced_batches: bool = False
    batch_positive_share: float = 0.5
    # Ensembles: N members averaged into one SavedModel (mean probability). Each member trains on every
    # positive and a seeded share `ensemble_majority_fraction` of the negatives: below 1.0 that is
    # balanced bagging; at 1.0 every member sees every row and members differ by initial weights and
    # batch order (seed bagging). Default: one model on every row. Across credit card, hypothyroid,
    # abalone 17 and page blocks (benchmarks/RESULTS.md, "Choosing the default") one plain-BCE MLP
    # ranked within seed noise of the best strategy on each table, while the 10-member balanced
    # bagging ranked below it on three of the four and trained 3 times slower.
    ensemble_members: int = 1
    ensemble_majority_fraction: float = 0.1
    # Mixed-strategy ensemble (`member_recipes.py`, `mixed_ensemble.py`): one member per recipe
    # (none, oversample:R, undersample:R, bagging:F), each on its own view of the rows. Non-empty,
    # it replaces ensemble_members and ensemble_majority_fraction; () keeps the ensemble above.
    ensemble_recipes: Tuple[str, ...] = ()
    # How the recipes' members are served: mean probability, or vote (members' own thresholds).
    ensemble_combine: str = "mean"
    # loss=auc: the share of BCE in the mix with the pairwise AUC surrogate (0: ranking loss only).
    auc_bce_weight: float = AUC_BCE_WEIGHT
    # Every training batch holds at least this many positives, drawn again from the model's own
    # positives (`positive_batches.py`); 0: batches as the rows come. loss=auc needs it or balanced batches.
    min_batch_positives: int = 0
    # Required length of an epoch when batches are drawn without end (balanced batches); None: rows/batch.
    steps_per_epoch: Optional[int] = None
    # Gradient-boosted trees (trainer.model=gbt or mlp_gbt; `trees.py`), TF-DF's defaults except where noted.
    gbt_num_trees: int = 300
    gbt_max_depth: int = 6
    gbt_shrinkage: float = 0.1
    gbt_min_examples: int = 5
    # L2 penalty on the leaf values (TF-DF's `l2_regularization`): it bounds the Newton step of a leaf
    # whose rows are nearly all of one class, where the hessian is close to 0.
    gbt_l2_regularization: float = 0.0
    # True: stop once the valid split's log-loss has not improved for 30 trees and keep the best count.
    # Off (not TF-DF's default): on credit card it kept 21-36 trees, and all 300 ranked better (eval
    # PR-AUC +0.04 unweighted, +0.08 weighted; benchmarks/RESULTS.md, "Gradient-boosted trees").
    gbt_early_stopping: bool = False
    # "balanced": each row weighted n / (k * count_c) (k = 2 for a binary label); "none": the threshold
    # (multiclass: the class weights) tuned on valid absorbs the imbalance. Balanced ranked better with
    # 300 trees on credit card (eval PR-AUC 0.809 against 0.778).
    gbt_example_weights: str = "balanced"
    # Random forest (trainer.model=rf or mlp_rf; `trees.py`), TF-DF's defaults but for the number of
    # trees and winner_take_all=False: each tree adds its leaf's class shares, a smooth score to rank.
    # Unweighted: the threshold tuned on valid absorbs the imbalance.
    rf_num_trees: int = 300
    rf_max_depth: int = 16
    rf_min_examples: int = 5
    # mlp_gbt / mlp_rf: "probability" serves the mean of the two families' probabilities; "logit" the
    # mean of their logits (k classes: of their log-probabilities), a geometric mean of the odds.
    family_blend: str = "probability"
    seed: int = DEFAULT_SEED

    @property
    def trains_mlp(self) -> bool:
        return self.model in MLP_MODELS

    @property
    def tree_family(self) -> str:
        """The tree family the model trains: "gbt", "rf", or "" for the MLP alone."""
        return TREE_FAMILIES.get(self.model, "")

    def __post_init__(self) -> None:
        require_choice("trainer.model", self.model, MODELS)
        require_choice("trainer.loss", self.loss, LOSSES)
        require(
            self.pos_weight is None or self.pos_weight > 0, f"trainer.pos_weight must be > 0, got {self.pos_weight!r}"
        )
        require(0.0 < self.focal_alpha < 1.0, f"trainer.focal_alpha must be in (0, 1), got {self.focal_alpha!r}")
        require(self.focal_gamma >= 0.0, f"trainer.focal_gamma must be >= 0, got {self.focal_gamma!r}")
        require(
            all(0.0 < alpha < 1.0 for alpha in self.focal_alpha_classes),
            f"trainer.focal_alpha_classes must all be in (0, 1), got {list(self.focal_alpha_classes)}",
        )
        require(all(units >= 1 for units in self.hidden_units), "trainer.hidden_units must all be >= 1")
        require(0.0 <= self.dropout < 1.0, f"trainer.dropout must be in [0, 1), got {self.dropout!r}")
        require(self.learning_rate > 0, f"trainer.learning_rate must be > 0, got {self.learning_rate!r}")
        require(self.batch_size >= 1, f"trainer.batch_size must be >= 1, got {self.batch_size!r}")
        require(self.max_epochs >= 1, f"trainer.max_epochs must be >= 1, got {self.max_epochs!r}")
        require(self.early_stopping_patience >= 0, "trainer.early_stopping_patience must be >= 0")
        require_choice("trainer.threshold_rule", self.threshold_rule, THRESHOLD_RULES)
        require_fraction("trainer.threshold_min_recall", self.threshold_min_recall)
        require_fraction("trainer.threshold_min_precision", self.threshold_min_precision)
        require_choice("trainer.threshold_fallback", self.threshold_fallback, (*THRESHOLD_RULES, "error"))
        require_fraction("trainer.decision_max_recall_loss", self.decision_max_recall_loss)
        require(
            0.0 < self.batch_positive_share < 1.0,
            f"trainer.batch_positive_share must be in (0, 1), got {self.batch_positive_share!r}",
        )
        require(self.ensemble_members >= 1, f"trainer.ensemble_members must be >= 1, got {self.ensemble_members!r}")
        require(
            not (self.balanced_batches and self.ensemble_members > 1),
            f"trainer.balanced_batches trains one model, but trainer.ensemble_members is {self.ensemble_members}; "
            "set trainer.ensemble_members=1 with balanced batches",
        )
        require(
            0.0 < self.ensemble_majority_fraction <= 1.0,
            f"trainer.ensemble_majority_fraction must be in (0, 1], got {self.ensemble_majority_fraction!r}",
        )
        require(
            self.steps_per_epoch is None or self.steps_per_epoch >= 1,
            f"trainer.steps_per_epoch must be >= 1, got {self.steps_per_epoch!r}",
        )
        require(self.gbt_num_trees >= 1, f"trainer.gbt_num_trees must be >= 1, got {self.gbt_num_trees!r}")
        require(self.gbt_max_depth >= 2, f"trainer.gbt_max_depth must be >= 2, got {self.gbt_max_depth!r}")
        require(0.0 < self.gbt_shrinkage <= 1.0, f"trainer.gbt_shrinkage must be in (0, 1], got {self.gbt_shrinkage!r}")
        require(self.gbt_min_examples >= 1, f"trainer.gbt_min_examples must be >= 1, got {self.gbt_min_examples!r}")
        require(
            self.gbt_l2_regularization >= 0.0,
            f"trainer.gbt_l2_regularization must be >= 0, got {self.gbt_l2_regularization!r}",
        )
        require_choice("trainer.gbt_example_weights", self.gbt_example_weights, GBT_EXAMPLE_WEIGHTS)
        require(self.rf_num_trees >= 1, f"trainer.rf_num_trees must be >= 1, got {self.rf_num_trees!r}")
        require(self.rf_max_depth >= 2, f"trainer.rf_max_depth must be >= 2, got {self.rf_max_depth!r}")
        require(self.rf_min_examples >= 1, f"trainer.rf_min_examples must be >= 1, got {self.rf_min_examples!r}")
        require_choice("trainer.family_blend", self.family_blend, FAMILY_BLENDS)
        self._check_auc_and_recipes()

    def _check_auc_and_recipes(self) -> None:
        """The AUC loss, its batches and the mixed-ensemble settings; one line each."""
        require_fraction("trainer.auc_bce_weight", self.auc_bce_weight)
        require(
            0 <= self.min_batch_positives < self.batch_size,
            f"trainer.min_batch_positives must be in [0, trainer.batch_size={self.batch_size}), "
            f"got {self.min_batch_positives!r}",
        )
        require(
            not (self.balanced_batches and self.min_batch_positives),
            "trainer.min_batch_positives tops up batches of the rows as they come; trainer.balanced_batches "
            "already fixes each batch's mix: choose one",
        )
        require(
            self.loss != "auc" or not self.trains_mlp or self.balanced_batches or self.min_batch_positives >= 1,
            "trainer.loss=auc learns from positive-negative pairs within a batch: set trainer.min_batch_positives "
            ">= 1 (any model or ensemble) or trainer.balanced_batches=true (one model)",
        )
        check_ensemble_settings(
            self.ensemble_recipes, self.ensemble_combine, balanced_batches=self.balanced_batches, model=self.model
        )


# Keys of the Trainer's `custom_config`, as `TrainerRunConfig` writes and reads them.
LABEL_KEY = "label_key"
NUMERIC_FEATURE_KEYS = "numeric_feature_keys"
CATEGORICAL_FEATURE_KEYS = "categorical_feature_keys"
PARAMETERS = "parameters"
# Optional keys, present for a multiclass label only (a binary custom_config is as before).
CLASS_NAMES = "class_names"
PROTECTED_CLASSES = "protected_classes"


@dataclasses.dataclass(frozen=True)
class TrainerRunConfig:
    """Everything `run_fn` reads from `fn_args.custom_config`: the data set's names and the parameters.

    The names are the data set's, not settings of the Trainer: the pipeline passes the same
    label key to every component. The feature keys are the Transform's outputs: float features
    (standardised numbers, then missing-value indicators) and int64 vocabulary ids.
    `class_names` (every class, in class-index order) and `protected_classes` (indices of the rare
    classes the decision rule and the gate protect) are empty for a binary label; three or more
    names make the run multiclass (`multiclass_training.py`).
    """

    label_key: str
    numeric_feature_keys: Tuple[str, ...]
    categorical_feature_keys: Tuple[str, ...] = ()
    parameters: TrainerParameters = dataclasses.field(default_factory=TrainerParameters)
    class_names: Tuple[str, ...] = ()
    protected_classes: Tuple[int, ...] = ()

    def __post_init__(self) -> None:
        require(bool(self.label_key), "the Trainer's label_key must not be empty")
        require(bool(self.feature_keys), "the Trainer's feature keys must not be empty: it needs at least one input")
        overlap = sorted(set(self.numeric_feature_keys) & set(self.categorical_feature_keys))
        require(not overlap, f"the Trainer's inputs {overlap} are both numeric and categorical")
        require(
            len(set(self.feature_keys)) == len(self.feature_keys),
            f"the Trainer's feature keys must be distinct, got {list(self.feature_keys)}",
        )
        require(
            self.label_key not in self.feature_keys,
            f"the Trainer's label {self.label_key!r} must not be a model input",
        )
        self._check_classes()

    @property
    def is_multiclass(self) -> bool:
        """k >= 3 classes: a softmax model and the per-class decision rule instead of a threshold."""
        return len(self.class_names) >= 3

    def _check_classes(self) -> None:
        """The class names and protected classes, and the settings a multiclass run refuses; one line each."""
        names, protected, parameters = self.class_names, self.protected_classes, self.parameters
        if not self.is_multiclass:
            require(not names, f"the Trainer's class_names {list(names)} name < 3 classes; leave it empty for binary")
            require(not protected, "the Trainer's protected_classes need a multiclass label (class_names)")
            require(
                not parameters.focal_alpha_classes,
                "trainer.focal_alpha_classes is for a multiclass label; a binary label uses trainer.focal_alpha",
            )
            return
        k = len(names)
        require(len(set(names)) == k, f"the Trainer's class_names must be distinct, got {list(names)}")
        require(
            bool(protected) and len(set(protected)) == len(protected) and all(0 <= c < k for c in protected),
            f"the Trainer's protected_classes must be distinct class indices 0..{k - 1}, at least one; "
            f"got {list(protected)}",
        )
        require(parameters.loss != "pos_weight", f"trainer.loss=pos_weight is binary only; the label has {k} classes")
        require(parameters.loss != "auc", f"trainer.loss=auc is binary only; the label has {k} classes")
        require(
            not parameters.ensemble_recipes and not parameters.min_batch_positives,
            f"trainer.ensemble_recipes and trainer.min_batch_positives are binary only; the label has {k} classes",
        )
        require(
            len(parameters.focal_alpha_classes) in (0, k),
            f"trainer.focal_alpha_classes has {len(parameters.focal_alpha_classes)} values; "
            f"give one per class ({k}) or none for balanced",
        )

    @property
    def feature_keys(self) -> Tuple[str, ...]:
        """Every model input, numeric first: the order of the Trainer's stacked rows."""
        return self.numeric_feature_keys + self.categorical_feature_keys

    def to_custom_config(self) -> Dict[str, Any]:
        """The JSON-able `custom_config` of the stock Trainer."""
        return {
            LABEL_KEY: self.label_key,
            NUMERIC_FEATURE_KEYS: list(self.numeric_feature_keys),
            CATEGORICAL_FEATURE_KEYS: list(self.categorical_feature_keys),
            PARAMETERS: self.parameters.to_json_dict(),
            **(
                {CLASS_NAMES: list(self.class_names), PROTECTED_CLASSES: list(self.protected_classes)}
                if self.class_names or self.protected_classes
                else {}
            ),
        }

    @classmethod
    def from_custom_config(cls, custom_config: Mapping[str, Any]) -> TrainerRunConfig:
        """The inverse of `to_custom_config`; a missing or unknown key is an error naming it."""
        expected = {LABEL_KEY, NUMERIC_FEATURE_KEYS, CATEGORICAL_FEATURE_KEYS, PARAMETERS}
        problems = [
            f"{what} {keys}"
            for what, keys in (
                ("lacks", sorted(expected - set(custom_config))),
                ("has unknown keys", sorted(set(custom_config) - expected - {CLASS_NAMES, PROTECTED_CLASSES})),
            )
            if keys
        ]
        if problems:
            raise ParameterError(
                f"the Trainer's custom_config {' and '.join(problems)}; build it with TrainerRunConfig.to_custom_config"
            )
        return cls(
            label_key=str(custom_config[LABEL_KEY]),
            numeric_feature_keys=tuple(str(key) for key in custom_config[NUMERIC_FEATURE_KEYS]),
            categorical_feature_keys=tuple(str(key) for key in custom_config[CATEGORICAL_FEATURE_KEYS]),
            parameters=TrainerParameters.from_json_dict(custom_config[PARAMETERS]),
            class_names=tuple(str(name) for name in custom_config.get(CLASS_NAMES, ())),
            protected_classes=tuple(int(index) for index in custom_config.get(PROTECTED_CLASSES, ())),
        )
