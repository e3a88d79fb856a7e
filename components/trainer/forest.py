"""A trained TF-DF forest (gradient-boosted or random) rewritten as plain TensorFlow ops, so serving needs no TF-DF.

A SavedModel that calls TF-DF's own inference op cannot even be loaded in a process that has not
imported `tensorflow_decision_forests` ("Op type not registered 'SimpleMLCreateModelResource'").
The stock Evaluator (TFMA, in Beam workers), the Pusher's consumers and any TensorFlow Serving
would all need that import. So the Trainer reads the trees out of the trained model (TF-DF's
inspector) into flat arrays, and `ForestLogit` walks them with gathers: every row and every tree
advance one level per step, for as many steps as the deepest tree has levels. The SavedModel then
holds only core ops and a few small constant arrays (nodes x a handful of numbers).

What the arrays reproduce, exactly as the learner's own inference does:
- a numerical condition is `value >= threshold`; a NaN takes the condition's missing branch;
- a categorical condition tests the vocabulary id + 1 against the node's set (TF-DF shifts integer
  categories by one and keeps 0 for out-of-dictionary); an id outside what training saw, or a
  negative one, is out-of-dictionary (0), as TF-DF treats it;
- the model's logit is the initial prediction plus the sum of one leaf value per tree, so its
  sigmoid is the forest's probability of the positive class;
- for k >= 3 classes (the multinomial loss) TF-DF grows k trees per iteration, tree t adding to
  class t mod k, and starts each class at its own initial prediction: the model outputs k logits
  whose softmax is the forest's class probabilities;
- a random forest (`winner_take_all=False`) predicts the mean over its trees of each leaf's class
  shares: for a binary label the leaf values are the positive shares and the model outputs the
  logit of their mean; for k classes each leaf holds k shares and the model outputs the log of
  their means (whose softmax is those means). Means are clipped to [PROBABILITY_FLOOR,
  1 - PROBABILITY_FLOOR] first, so a class no tree votes for still has a finite logit.
"""

from __future__ import annotations

import dataclasses
from typing import Any, List, Sequence

import numpy as np
import tensorflow as tf

# TF-DF's shift of integer categories (0 is the out-of-dictionary item); `core_inference.CATEGORICAL_INTEGER_OFFSET`.
CATEGORICAL_OFFSET = 1
_SERIALIZATION_PACKAGE = "imbalance"
# How the trees' leaf values make the output: boosting sums logits; a random forest averages probabilities.
SUM_OF_LOGITS = "sum_of_logits"
MEAN_OF_PROBABILITIES = "mean_of_probabilities"
# The random forest's probabilities are clipped to [floor, 1 - floor] before the logit (float32 keeps 1 - 1e-6).
PROBABILITY_FLOOR = 1e-6
_GRADIENT_BOOSTED_TREES = "GRADIENT_BOOSTED_TREES"
_RANDOM_FOREST = "RANDOM_FOREST"


class ForestError(ValueError):
    """The forest holds something this graph cannot evaluate (a condition kind, an unknown feature)."""


@dataclasses.dataclass(frozen=True)
class FlatForest:
    """Every node of every tree in one array each; a leaf points to itself, so extra steps keep it in place."""

    feature: np.ndarray  # int32 [nodes]: column of the input matrix the node tests (0 for a leaf)
    threshold: np.ndarray  # float32 [nodes]: numerical conditions
    categorical: np.ndarray  # bool [nodes]: the node tests a category set
    mask_row: np.ndarray  # int32 [nodes]: the node's row of `masks` (0 unless categorical)
    missing_positive: np.ndarray  # bool [nodes]: where a NaN goes
    positive_child: np.ndarray  # int32 [nodes]
    negative_child: np.ndarray  # int32 [nodes]
    # float32 [nodes] (boosting) or [nodes, outputs] (random forest: class shares); 0 for an inner node.
    leaf_value: np.ndarray
    roots: np.ndarray  # int32 [trees]
    masks: np.ndarray  # bool [categorical conditions + 1, widest category range]
    depth: int  # the most conditions on any root-to-leaf path
    # float32 [outputs]: the initial prediction per output (1: the binomial loss's log-odds of the
    # base rate; k: the multinomial loss's per-class start). Tree t adds to output t mod outputs.
    # A random forest's are zeros: it has no initial prediction.
    bias: np.ndarray
    combine: str = SUM_OF_LOGITS

    @property
    def trees(self) -> int:
        return int(self.roots.size)

    @property
    def outputs(self) -> int:
        """Logits the forest outputs: 1 for a binary label, k for k >= 3 classes."""
        return int(self.bias.size)


def flatten_forest(inspector: Any, feature_keys: Sequence[str], categorical_keys: Sequence[str]) -> FlatForest:
    """The arrays of a trained TF-DF model's `make_inspector()`; inputs in `feature_keys` order.

    Gradient-boosted trees or a random forest (`winner_take_all=False`), of a binary or a k-class label.
    """
    from tensorflow_decision_forests.component.py_tree import condition as conditions
    from tensorflow_decision_forests.component.py_tree import node as nodes

    kind = inspector.model_type()
    if kind not in (_GRADIENT_BOOSTED_TREES, _RANDOM_FOREST):
        raise ForestError(f"a TF-DF model of type {kind} is not a forest the serving graph can evaluate")
    leaf_value = _random_forest_leaf if kind == _RANDOM_FOREST else _boosted_leaf
    column = {key: index for index, key in enumerate(feature_keys)}
    categorical = set(categorical_keys)
    widths = [
        spec.categorical.number_of_unique_values for spec in inspector.dataspec.columns if spec.name in categorical
    ]
    width = max(widths, default=1)
    rows: List[dict] = []
    masks: List[np.ndarray] = [np.zeros(width, dtype=bool)]
    roots, depth = [], 0

    def add(node: Any, level: int) -> int:
        nonlocal depth
        index = len(rows)
        rows.append({"feature": 0, "threshold": 0.0, "categorical": False, "mask_row": 0, "missing": False})
        if isinstance(node, nodes.LeafNode):
            rows[index].update(positive=index, negative=index, leaf=leaf_value(node.value))
            depth = max(depth, level)
            return index
        test = node.condition
        name = test.feature.name
        if name not in column:
            raise ForestError(f"the forest tests feature {name!r}, which is not a model input {list(feature_keys)}")
        row = rows[index]
        row.update(feature=column[name], missing=bool(test.missing_evaluation), leaf=None)
        if isinstance(test, conditions.NumericalHigherThanCondition):
            row["threshold"] = float(test.threshold)
        elif isinstance(test, conditions.CategoricalIsInCondition):
            mask = np.zeros(width, dtype=bool)
            mask[[int(item) for item in test.mask]] = True
            row.update(categorical=True, mask_row=len(masks))
            masks.append(mask)
        else:
            raise ForestError(f"condition {type(test).__name__} on {name!r} is not supported in the serving graph")
        row["positive"] = add(node.pos_child, level + 1)
        row["negative"] = add(node.neg_child, level + 1)
        return index

    for tree in inspector.extract_all_trees():
        roots.append(add(tree.root, 0))
    inner_leaf: Any  # what an inner node holds where a leaf holds its value(s): 0 in the same shape
    if kind == _RANDOM_FOREST:
        # One output per class share a leaf holds; no initial prediction.
        outputs = max((len(row["leaf"]) for row in rows if row["leaf"] is not None), default=1)
        bias, combine, inner_leaf = np.zeros(outputs, dtype=np.float32), MEAN_OF_PROBABILITIES, [0.0] * outputs
    else:
        header = inspector.specialized_header()
        bias, combine, inner_leaf = np.asarray(list(header.initial_predictions), dtype=np.float32), SUM_OF_LOGITS, 0.0
        if header.num_trees_per_iter != bias.size or len(roots) % bias.size:
            raise ForestError(
                f"the forest has {len(roots)} trees, {header.num_trees_per_iter} per iteration, and "
                f"{bias.size} initial predictions; the graph needs one tree per output and iteration"
            )
    for row in rows:
        row["leaf"] = inner_leaf if row["leaf"] is None else row["leaf"]

    def column_of(key: str, dtype: Any) -> np.ndarray:
        return np.asarray([row[key] for row in rows], dtype=dtype)

    return FlatForest(
        feature=column_of("feature", np.int32),
        threshold=column_of("threshold", np.float32),
        categorical=column_of("categorical", bool),
        mask_row=column_of("mask_row", np.int32),
        missing_positive=column_of("missing", bool),
        positive_child=column_of("positive", np.int32),
        negative_child=column_of("negative", np.int32),
        leaf_value=column_of("leaf", np.float32),
        roots=np.asarray(roots, dtype=np.int32),
        masks=np.stack(masks),
        depth=depth,
        bias=bias,
        combine=combine,
    )


def _boosted_leaf(value: Any) -> float:
    """A boosted tree's leaf: its regression value, added to the logit."""
    return float(value.value)


def _random_forest_leaf(value: Any) -> List[float]:
    """A random-forest leaf's class shares, in class-index order: [positive share] for two classes, else all k."""
    shares = [float(share) for share in value.probability]
    return shares[1:] if len(shares) == 2 else shares


# Columns of `_node_links`: what one step of the walk reads about the node a row has reached.
_FEATURE, _POSITIVE, _NEGATIVE, _MISSING, _THRESHOLD_BITS, _MASK_ROW, _CATEGORICAL = range(7)


def _node_links(forest: FlatForest, has_categorical: bool) -> np.ndarray:
    """int32 [nodes, 5 or 7]: feature, both children, the child a NaN takes, the threshold's float32 bits
    (and, when any node tests a category set, its `masks` row and whether it does).

    Packed so a step of the walk is one gather of the node's row, not one gather per field: the walk
    is gathers over [batch, trees], and their count sets the scoring time of a 300-tree forest.
    """
    missing_child = np.where(forest.missing_positive, forest.positive_child, forest.negative_child)
    columns = [
        forest.feature,
        forest.positive_child,
        forest.negative_child,
        missing_child,
        forest.threshold.astype(np.float32).view(np.int32),
    ]
    if has_categorical:
        columns += [forest.mask_row, forest.categorical.astype(np.int32)]
    return np.stack([np.asarray(column, dtype=np.int32) for column in columns], axis=1)


@tf.keras.utils.register_keras_serializable(package=_SERIALIZATION_PACKAGE)
class ForestLogit(tf.keras.layers.Layer):
    """[batch, features] float32 (categorical ids as exact floats) -> [batch, outputs] logits of the forest."""

    def __init__(self, forest: FlatForest, **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.forest = forest
        # Constants of the graph, not variables: nothing here is trained or restored on its own. The
        # per-node fields the walk reads are packed in `_links`; these are the arrays it reads whole.
        self._arrays = {name: tf.constant(getattr(forest, name)) for name in ("roots", "masks", "leaf_value", "bias")}
        self._has_categorical = bool(forest.categorical.any())
        self._links = tf.constant(_node_links(forest, self._has_categorical))

    def call(self, inputs):
        arrays, forest = self._arrays, self.forest
        rows = tf.shape(inputs)[0]
        node = tf.tile(arrays["roots"][tf.newaxis, :], [rows, 1])  # [batch, trees]
        for _ in range(forest.depth):
            # One gather brings every number of the node a step needs (see `_node_links`).
            link = tf.gather(self._links, node)  # [batch, trees, link columns]
            value = tf.gather(inputs, link[..., _FEATURE], axis=1, batch_dims=1)
            positive = value >= tf.bitcast(link[..., _THRESHOLD_BITS], tf.float32)
            if self._has_categorical:
                category = tf.cast(value, tf.int32) + CATEGORICAL_OFFSET
                width = tf.shape(arrays["masks"])[1]
                category = tf.where((category >= 0) & (category < width), category, 0)
                in_set = tf.gather_nd(arrays["masks"], tf.stack([link[..., _MASK_ROW], category], axis=-1))
                positive = tf.where(link[..., _CATEGORICAL] > 0, in_set, positive)
            child = tf.where(positive, link[..., _POSITIVE], link[..., _NEGATIVE])
            node = tf.where(tf.math.is_nan(value), link[..., _MISSING], child)
        leaves = tf.gather(arrays["leaf_value"], node)  # [batch, trees] (boosting) or [batch, trees, outputs]
        if forest.combine == MEAN_OF_PROBABILITIES:
            probability = tf.clip_by_value(tf.reduce_mean(leaves, axis=1), PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR)
            if forest.outputs == 1:
                return tf.math.log(probability) - tf.math.log1p(-probability)
            return tf.math.log(probability)
        if forest.outputs == 1:
            return tf.reduce_sum(leaves, axis=1, keepdims=True) + arrays["bias"]
        # Tree t adds to class t mod k: [batch, iterations, k] summed over the iterations.
        per_class = tf.reshape(leaves, [rows, forest.trees // forest.outputs, forest.outputs])
        return tf.reduce_sum(per_class, axis=1) + arrays["bias"]

    def get_config(self):
        config = super().get_config()
        config["forest"] = {
            field.name: (value.tolist() if isinstance(value, np.ndarray) else value)
            for field in dataclasses.fields(self.forest)
            for value in [getattr(self.forest, field.name)]
        }
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        saved = config.pop("forest")
        dtypes = {
            "feature": np.int32,
            "threshold": np.float32,
            "categorical": bool,
            "mask_row": np.int32,
            "missing_positive": bool,
            "positive_child": np.int32,
            "negative_child": np.int32,
            "leaf_value": np.float32,
            "roots": np.int32,
            "masks": bool,
            "bias": np.float32,
        }
        arrays = {name: np.asarray(saved[name], dtype=dtype) for name, dtype in dtypes.items()}
        combine = str(saved.get("combine", SUM_OF_LOGITS))
        return cls(FlatForest(**arrays, depth=int(saved["depth"]), combine=combine), **config)


def forest_model(forest: FlatForest, feature_keys: Sequence[str]) -> tf.keras.Model:
    """A Keras model with the MLP's inputs (one float32 [batch, 1] column per feature) that outputs the logit(s)."""
    inputs = {key: tf.keras.layers.Input(shape=(1,), name=key, dtype=tf.float32) for key in feature_keys}
    stacked = (
        inputs[feature_keys[0]]
        if len(feature_keys) == 1
        else tf.keras.layers.Concatenate(name="stack")([inputs[key] for key in feature_keys])
    )
    name = "rf" if forest.combine == MEAN_OF_PROBABILITIES else "gbt"
    return tf.keras.Model(inputs=inputs, outputs=ForestLogit(forest, name="forest_logit")(stacked), name=name)
