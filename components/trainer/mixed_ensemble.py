"""Mixed-strategy ensembles: one member per recipe, each on its own view of the rows, combined by mean or vote.

`trainer.ensemble_recipes` (`member_recipes.py`) says which rows each member sees; the views
are built here, inside the Trainer, from the one training split it reads, so the pipeline's DAG
is the same as for one model. Member m's draws and its initial weights and batch order are
seeded by `trainer.seed` and m. A view other than `none` is selected in one pass and cached on
disk, as the balanced-bagging members are.

Each member learns the class mix of its own view (an undersampled member's probabilities sit
near 0.5, the `none` member's near the base rate), so before they are combined every member's
logit is shifted by log(P/N) - log(P_m/N_m), the data's prior log-odds minus those its batches
showed (the prior correction for resampled training, Dal Pozzolo et al. 2015): resampling by
class changes only the priors, so each shifted member estimates the probability under the
data's own mix. Without it the members with the most positives would dominate the mean (on a
small table a barely trained undersampled member set the whole ranking). The shift moves a
member's own threshold with it, so its votes are unchanged.

The members are joined into one Keras model that outputs a logit, so the serving signature
(sigmoid, then the decision at the threshold tuned on `valid`) needs nothing new:

- `mean`: the served probability is the mean of the members' probabilities
  (`ensemble.average_members`);
- `vote`: each member votes positive when its probability reaches its own threshold, tuned on
  `valid` by `trainer.threshold_rule` as a single model's would be. The served probability is
  (votes + mean member probability) / (members + 1): ordered first by the number of votes, and
  within the same count by the mean probability. So a threshold on it is "at least v votes, and
  among rows with exactly v votes those whose mean probability is high enough"; the threshold
  tuned on `valid` picks v (and the cut within it) by the same rule, and PR-AUC sees a full
  ranking rather than members + 1 tied values. It is a score, not a calibrated probability.

This path also trains the classic ensemble (`ensemble_members` > 1) when
`trainer.min_batch_positives` > 0, as `bagging:F` (or `none` for F = 1) members.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any, Dict, List, Sequence, Tuple

import numpy as np
import tensorflow as tf
from absl import logging
from tfx.dsl.io import fileio

from components.common.progress import PROGRESS_PREFIX
from components.trainer import ensemble
from components.trainer.fitting import member_figures, member_seed
from components.trainer.inputs import TrainingStatistics, unstack_features
from components.trainer.member_layers import MembersLayer, inputs_like
from components.trainer.member_recipes import Recipe, copies_per_row, parse_recipe, parse_recipes
from components.trainer.network import ClassBalance, initial_output_bias
from components.trainer.positive_batches import batches_for, count_classes
from components.trainer.spec import TrainerParameters
from components.trainer.valid_threshold import tune_threshold

if TYPE_CHECKING:
    from components.trainer.training import Fitter

# Keeps the vote score's logit finite.
_VOTE_EPSILON = 1e-7
_SERIALIZATION_PACKAGE = "imbalance"


def implied_recipes(parameters: TrainerParameters) -> Tuple[Recipe, ...]:
    """`ensemble_recipes`, or the classic ensemble written as recipes (`bagging:F`, or `none` for F = 1)."""
    if parameters.ensemble_recipes:
        return parse_recipes(parameters.ensemble_recipes)
    fraction = parameters.ensemble_majority_fraction
    recipe = parse_recipe("none" if fraction >= 1.0 else f"bagging:{fraction!r}")
    return (recipe,) * parameters.ensemble_members


def positive_flags(train_rows: tf.data.Dataset) -> np.ndarray:
    """Whether each row of the (cached) split is positive, in the cache's order."""
    labels = [label.numpy().reshape(-1) for label in train_rows.map(lambda stacked, label: label).batch(65536)]
    return np.concatenate(labels) > 0.5


def member_view(
    recipe: Recipe,
    member: int,
    seed: int,
    train_rows: tf.data.Dataset,
    feature_keys: Sequence[str],
    positive: np.ndarray,
    cache_path: str,
) -> tf.data.Dataset:
    """Member `member`'s unbatched (feature vector, label) rows under `recipe` (module doc of `member_recipes`)."""
    if recipe.kind == "none":
        return train_rows
    if recipe.kind == "bagging":
        assert recipe.value is not None
        keep = ensemble.majority_subset_filter(seed, member, recipe.value)
        keys = tuple(feature_keys)
        chosen = unstack_features(train_rows, keys).filter(keep)
        return chosen.map(lambda features, label: (tf.concat([features[key] for key in keys], -1), label)).cache(
            cache_path
        )
    counts = copies_per_row(recipe, positive, seed, member)
    assert counts is not None
    copies = tf.data.Dataset.from_tensor_slices(counts)
    return (
        tf.data.Dataset.zip((train_rows, copies))
        .filter(lambda row, count: count > 0)
        .flat_map(lambda row, count: tf.data.Dataset.from_tensors(row).repeat(count))
        .cache(cache_path)
    )


def member_thresholds(members: Sequence[tf.keras.Model], valid: tf.data.Dataset, parameters: TrainerParameters):
    """Each member's own decision threshold on `valid`, by the configured rule (what its vote uses)."""
    return [tune_threshold(model, valid, parameters).threshold for model in members]


@tf.keras.utils.register_keras_serializable(package=_SERIALIZATION_PACKAGE)
class LogitShift(tf.keras.layers.Layer):
    """Adds a constant to a logit: a member's prior correction (module doc)."""

    def __init__(self, offset: float, **kwargs):
        super().__init__(**kwargs)
        self.offset = float(offset)

    def call(self, logits):
        return logits + tf.constant(self.offset, logits.dtype)

    def get_config(self):
        config = super().get_config()
        config["offset"] = self.offset
        return config


def prior_offset(data: ClassBalance, seen: ClassBalance) -> float:
    """log(P/N) of the data minus log(P/N) of what a member trained on: its logit's prior correction."""
    return math.log(data.positives / data.negatives) - math.log(seen.positives / seen.negatives)


def shifted(member: tf.keras.Model, offset: float, name: str) -> tf.keras.Model:
    """The member with `offset` added to its logit, taking the same (dict) inputs."""
    inputs = inputs_like(member)
    return tf.keras.Model(inputs, LogitShift(offset, name=f"{name}_prior_shift")(member(inputs)), name=name)


@tf.keras.utils.register_keras_serializable(package=_SERIALIZATION_PACKAGE)
class MemberVote(MembersLayer):
    """The logit of (votes + mean member probability) / (members + 1) (module doc, `vote`)."""

    def __init__(self, members: Sequence[tf.keras.Model], thresholds: Sequence[float], **kwargs):
        super().__init__(members, **kwargs)
        if len(self.members) != len(thresholds) or not self.members:
            raise ValueError(
                f"a vote needs one threshold per member, got {len(self.members)} members, {len(thresholds)}"
            )
        self.thresholds = [float(value) for value in thresholds]

    def call(self, inputs):
        probabilities = tf.stack([tf.sigmoid(member(inputs, training=False)) for member in self.members], axis=0)
        cut = tf.reshape(tf.constant(self.thresholds, probabilities.dtype), [-1, 1, 1])
        votes = tf.reduce_sum(tf.cast(probabilities >= cut, probabilities.dtype), axis=0)
        score = (votes + tf.reduce_mean(probabilities, axis=0)) / float(len(self.members) + 1)
        score = tf.clip_by_value(score, _VOTE_EPSILON, 1.0 - _VOTE_EPSILON)
        return tf.math.log(score) - tf.math.log1p(-score)

    def get_config(self):
        config = super().get_config()
        config["thresholds"] = list(self.thresholds)
        return config


def vote_members(members: Sequence[tf.keras.Model], thresholds: Sequence[float]) -> tf.keras.Model:
    """One Keras model with the members' (dict) inputs whose logit is the vote score's (module doc)."""
    inputs = inputs_like(members[0])
    voted = MemberVote(members, thresholds, name="member_vote")(inputs)
    return tf.keras.Model(inputs=inputs, outputs=voted, name=f"vote_of_{len(members)}")


def train_mixed_ensemble(
    fitter: Fitter, stats: TrainingStatistics, train_rows: tf.data.Dataset, log_dir: str, cache_dir: str
) -> Tuple[tf.keras.Model, Dict[str, Any]]:
    """Trains one member per recipe on its own view and combines them (module doc); a logit model and figures."""
    parameters = fitter.parameters
    keys = fitter.features.keys
    recipes = implied_recipes(parameters)
    needs_flags = any(recipe.kind in ("oversample", "undersample") for recipe in recipes)
    positive = positive_flags(train_rows) if needs_flags else np.zeros(0, dtype=bool)
    fileio.makedirs(cache_dir)  # tf.data writes each member's cache file there, and needs the folder
    members: List[tf.keras.Model] = []
    histories, counts, biases, offsets = [], [], [], []
    data = ClassBalance(stats.positives, stats.negatives)
    for member, recipe in enumerate(recipes):
        seed = member_seed(parameters.seed, member)
        member_log_dir = os.path.join(log_dir, f"member_{member}")
        fileio.makedirs(member_log_dir)
        view = member_view(
            recipe, member, parameters.seed, train_rows, keys, positive, os.path.join(cache_dir, f"member_{member}")
        )
        # One pass counts the member's rows and writes its cache; `none` is the split as counted.
        rows, positives = (stats.rows, stats.positives) if recipe.kind == "none" else count_classes(view)
        logging.info(
            "%sensemble member %d/%d (%s) on %d positive and %d negative rows",
            PROGRESS_PREFIX,
            member + 1,
            len(recipes),
            recipe,
            positives,
            rows - positives,
        )
        batches, seen = batches_for(view, keys, TrainingStatistics(rows, positives), parameters, seed)
        model, history = fitter.fit(batches, seen, seed, None, member_log_dir)
        offsets.append(prior_offset(data, seen))
        members.append(shifted(model, offsets[-1], f"member_{member}"))
        histories.append(history)
        counts.append({"0": rows - positives, "1": positives})
        biases.append(initial_output_bias(seen) if parameters.initial_bias else 0.0)
    figures: Dict[str, Any] = {
        "ensemble_members": len(recipes),
        "ensemble_recipes": [str(recipe) for recipe in recipes],
        "ensemble_combine": parameters.ensemble_combine,
        "member_class_counts": counts,
        "min_batch_positives": parameters.min_batch_positives,
        **member_figures(histories),
        "initial_bias": biases,
        "member_logit_offsets": offsets,
    }
    if parameters.ensemble_combine == "vote":
        thresholds = member_thresholds(members, fitter.valid, parameters)
        figures["member_thresholds"] = thresholds
        return vote_members(members, thresholds), figures
    return ensemble.average_members(members, output="logit"), figures
