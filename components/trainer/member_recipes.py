"""Ensemble member recipes (`trainer.ensemble_recipes`): which rows each member of a mixed ensemble sees.

A mixed-strategy ensemble trains one member per recipe, each on its own view of the training
split, built inside the Trainer (the pipeline's DAG stays the same). The recipes:

- `none`: every row, as the Trainer reads it;
- `oversample:R`: every row, plus positives drawn with replacement until positives/negatives
  is R (0 < R <= 1, as `rebalance.target_ratio`: minority/majority after resampling);
- `undersample:R`: every positive and a sample without replacement of the negatives, exactly
  round(positives / R) of them, so positives/negatives is R (0 < R <= 1);
- `bagging:F`: every positive and a seeded hash-subset of about F of the negatives (0 < F <= 1),
  the same rows as member m of `trainer.ensemble_members` with `ensemble_majority_fraction=F`.

`oversample` and `undersample` leave a view unchanged when the data already has R or more
positives per negative. Their draws are exact in count and seeded by `trainer.seed` and the
member's index, so a member's rows depend on the data's order (the Trainer's cache keeps the
order of the Transform's output). This module parses and checks the recipes and computes the
per-row copy counts with NumPy; it loads no TensorFlow, because `spec.py` checks the recipes
when a config is built.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional, Sequence, Tuple

import numpy as np

from components.common.parameters import ParameterError

RECIPE_KINDS = ("none", "oversample", "undersample", "bagging")
# How the members' outputs become the served probability (see mixed_ensemble.py).
ENSEMBLE_COMBINES = ("mean", "vote")
_SEPARATOR = ":"


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One member's recipe: its kind and its number (None for `none`)."""

    kind: str
    value: Optional[float] = None

    def __str__(self) -> str:
        return self.kind if self.value is None else f"{self.kind}{_SEPARATOR}{self.value!r}"


def parse_recipe(text: str) -> Recipe:
    """`none`, `oversample:R`, `undersample:R` or `bagging:F`; anything else is a ParameterError naming it."""
    kind, separator, number = str(text).strip().partition(_SEPARATOR)
    kind = kind.strip().lower()

    def bad(reason: str) -> ParameterError:
        return ParameterError(
            f"trainer.ensemble_recipes: bad recipe {text!r}: {reason}; recipes are none, oversample:R, "
            "undersample:R (R = positives/negatives after, in (0, 1]) or bagging:F (F = share of negatives, in (0, 1])"
        )

    if kind not in RECIPE_KINDS:
        raise bad(f"unknown kind {kind!r}")
    if kind == "none":
        if separator:
            raise bad("none takes no number")
        return Recipe("none")
    if not separator:
        raise bad(f"{kind} needs a number, e.g. {kind}:0.5")
    try:
        value = float(number)
    except ValueError:
        raise bad(f"{number.strip()!r} is not a number") from None
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise bad(f"{value!r} is not in (0, 1]")
    return Recipe(kind, value)


def parse_recipes(texts: Sequence[str]) -> Tuple[Recipe, ...]:
    """Every recipe of `trainer.ensemble_recipes`, parsed and checked (the first bad one raises)."""
    return tuple(parse_recipe(text) for text in texts)


def member_rng(seed: int, member: int) -> np.random.Generator:
    """The NumPy generator of member `member`'s draws, from `trainer.seed` and the member's index."""
    return np.random.default_rng([seed % 2**64, member])


def copies_per_row(recipe: Recipe, positive: np.ndarray, seed: int, member: int) -> Optional[np.ndarray]:
    """How many times each row of the split (in cache order) appears in the member's view.

    `positive` is a boolean per row. Returns None for the recipes that need no counts (`none`
    keeps every row once; `bagging` keeps rows by a hash of their features, see `ensemble.py`).
    """
    positive = np.asarray(positive, dtype=bool).reshape(-1)
    if recipe.kind in ("none", "bagging"):
        return None
    assert recipe.value is not None
    positives, negatives = np.flatnonzero(positive), np.flatnonzero(~positive)
    if positives.size == 0 or negatives.size == 0:
        raise ParameterError(
            f"recipe {recipe} needs positive and negative rows, got {positives.size} and {negatives.size}"
        )
    counts = np.ones(positive.size, dtype=np.int64)
    rng = member_rng(seed, member)
    if recipe.kind == "oversample":
        extra = max(0, round(recipe.value * negatives.size) - positives.size)
        if extra:
            counts[positives] += rng.multinomial(extra, np.full(positives.size, 1.0 / positives.size))
        return counts
    kept = min(negatives.size, max(1, round(positives.size / recipe.value)))
    counts[negatives] = 0
    counts[negatives[rng.choice(negatives.size, size=kept, replace=False)]] = 1
    return counts


def check_ensemble_settings(
    recipes: Sequence[str], combine: str, *, balanced_batches: bool, model: str
) -> Tuple[Recipe, ...]:
    """The checks `TrainerParameters` runs on the recipe settings; returns the parsed recipes."""
    parsed = parse_recipes(recipes)
    if combine not in ENSEMBLE_COMBINES:
        raise ParameterError(f"trainer.ensemble_combine must be one of {', '.join(ENSEMBLE_COMBINES)}; got {combine!r}")
    if combine == "vote" and not parsed:
        raise ParameterError(
            "trainer.ensemble_combine=vote combines the members of trainer.ensemble_recipes, which is empty; "
            "set recipes (e.g. none,oversample:0.1,undersample:1.0) or ensemble_combine=mean"
        )
    if parsed and balanced_batches:
        raise ParameterError(
            "trainer.ensemble_recipes trains one member per recipe; trainer.balanced_batches trains one model: "
            "choose one"
        )
    if parsed and model in ("gbt", "rf"):
        raise ParameterError(
            f"trainer.ensemble_recipes are MLP members; trainer.model={model} trains none (use mlp_{model})"
        )
    return parsed
