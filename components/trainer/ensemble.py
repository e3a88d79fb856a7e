"""Balanced bagging: members trained on all minority rows plus a seeded subset of the majority.

`majority_subset_filter` is a `tf.data` predicate choosing member m's rows. A majority row is
kept when a fingerprint of (seed, member, the row's stable key) falls below `keep_fraction`;
the key is a given id feature or the serialized feature values, so the choice depends on the
row alone, never on its position, the file order or the number of workers. Rows with
identical features (and no id) share their fate.

`average_members` joins trained members into one Keras model with the same inputs. Members
output logits; the joined model outputs, by `output`:

- `"probability"` (default): the mean of the members' probabilities (sigmoid for one output
  unit, softmax for k units);
- `"logit"`: the logit of that mean (binary: log(p / (1 - p)); multiclass: log p, up to a
  constant), computed with log-sum-exp from the members' logits so it stays finite. Its
  sigmoid (softmax) is exactly the mean probability, so code written for a single logit model
  (e.g. a serving signature applying `tf.sigmoid`) works unchanged;
- `"mean_logit"`: the mean of the members' logits (multiclass: of their log-softmax), whose
  sigmoid (softmax) is the normalised geometric mean of the members' odds (probabilities).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Hashable, List, Optional, Sequence

import tensorflow as tf

from components.trainer.member_layers import MembersLayer, inputs_like

ENSEMBLE_OUTPUTS = ("probability", "logit", "mean_logit")
_HASH_BUCKETS = 1 << 40
_SERIALIZATION_PACKAGE = "imbalance"


class EnsembleError(ValueError):
    """Ensemble settings or members are invalid (no members, a bad fraction, incompatible inputs)."""


def _check_int(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise EnsembleError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _check_keep_fraction(keep_fraction: float) -> float:
    keep_fraction = float(keep_fraction)
    if not 0.0 < keep_fraction <= 1.0:
        raise EnsembleError(
            f"keep_fraction must be in (0, 1], got {keep_fraction!r}; it is the share of majority rows each member sees"
        )
    return keep_fraction


def check_member_count(members: int) -> int:
    """The number of ensemble members, checked (>= 1) before any training starts."""
    return _check_int("ensemble members", members, 1)


def _example_key(features, id_key: Optional[str], label_key: Optional[str]) -> tf.Tensor:
    """A string identifying one example by content: its id, or every feature's serialized value."""
    if not isinstance(features, dict):
        raise EnsembleError(f"expected a dict of features, got {type(features).__name__}")
    if id_key is not None:
        if id_key not in features:
            raise EnsembleError(f"id feature {id_key!r} is not among the features {sorted(features)}")
        example_id = features[id_key]
        if example_id.dtype == tf.string:
            return tf.strings.reduce_join(tf.reshape(example_id, [-1]), separator="\x1f")
        return tf.io.serialize_tensor(example_id)
    parts = []
    for key in sorted(features):
        if key == label_key:
            continue
        value = features[key]
        if isinstance(value, tf.SparseTensor):
            value = tf.sparse.to_dense(value)
        parts.append(tf.io.serialize_tensor(value))
    if not parts:
        raise EnsembleError("examples have no features besides the label to key them by; pass id_key")
    return tf.strings.join(parts, separator="\x1f")


def majority_subset_filter(
    seed: int,
    member: int,
    keep_fraction: float,
    *,
    minority_label: Hashable = 1,
    label_key: Optional[str] = None,
    id_key: Optional[str] = None,
) -> Callable[..., tf.Tensor]:
    """A predicate for `tf.data.Dataset.filter` keeping member `member`'s rows of an UNBATCHED dataset.

    Elements are `(features, label)` pairs, or feature dicts holding the label under `label_key`.
    Every row whose label equals `minority_label` (or is one of them, when it is a tuple or list: the
    protected classes of a multiclass label) is kept; any other row is kept with probability
    `keep_fraction`, decided by a hash of `seed`, `member` and the row's key (see the module doc).
    """
    _check_int("seed", seed, -(2**63))
    _check_int("member", member, 0)
    keep_fraction = _check_keep_fraction(keep_fraction)
    salt = f"balanced-bagging/{seed}/{member}/"
    cutoff = int(math.floor(keep_fraction * _HASH_BUCKETS))

    # Not autograph-converted: no tensor-dependent Python control flow here, and a bad element
    # structure then raises EnsembleError itself rather than autograph's StagingError.
    @tf.autograph.experimental.do_not_convert
    def predicate(*element):
        if len(element) == 2:
            features, label = element
        elif len(element) == 1 and isinstance(element[0], dict):
            features = element[0]
            if label_key is None or label_key not in features:
                raise EnsembleError(
                    f"elements are feature dicts; label_key must name the label among {sorted(features)}, "
                    f"got {label_key!r}"
                )
            label = features[label_key]
        else:
            raise EnsembleError("expected (features, label) pairs or feature dicts with a label_key")
        label = tf.reshape(label, [])
        if isinstance(minority_label, (tuple, list)):
            is_minority = tf.reduce_any(tf.equal(label, tf.constant(list(minority_label), dtype=label.dtype)))
        else:
            is_minority = tf.equal(label, tf.constant(minority_label, dtype=label.dtype))
        key = _example_key(features, id_key, label_key)
        bucket = tf.strings.to_hash_bucket_fast(tf.strings.join([salt, key]), _HASH_BUCKETS)
        return tf.logical_or(is_minority, bucket < cutoff)

    return predicate


def member_filters(seed: int, members: int, keep_fraction: float, **options: Any) -> List[Callable[..., tf.Tensor]]:
    """One `majority_subset_filter` per member 0..members-1; `options` are its keyword arguments.

    (`minority_label`, `label_key`, `id_key`: the same for every member, so they are passed on as given.)
    """
    check_member_count(members)
    return [majority_subset_filter(seed, member, keep_fraction, **options) for member in range(members)]


@tf.keras.utils.register_keras_serializable(package=_SERIALIZATION_PACKAGE)
class MemberAverage(MembersLayer):
    """Runs every member on the same inputs and averages their probabilities (see the module doc)."""

    def __init__(self, members: Sequence[tf.keras.Model], output: str = "probability", **kwargs):
        super().__init__(members, **kwargs)
        if output not in ENSEMBLE_OUTPUTS:
            raise EnsembleError(f"output must be one of {', '.join(ENSEMBLE_OUTPUTS)}, got {output!r}")
        self.output_kind = output

    def call(self, inputs):
        logits = tf.stack([member(inputs, training=False) for member in self.members], axis=0)
        count = tf.cast(len(self.members), logits.dtype)
        if self.output_kind == "mean_logit":
            return tf.reduce_mean(logits if logits.shape[-1] == 1 else tf.nn.log_softmax(logits, axis=-1), axis=0)
        if logits.shape[-1] == 1:
            if self.output_kind == "probability":
                return tf.reduce_mean(tf.sigmoid(logits), axis=0)
            # log mean sigmoid(z_i) - log mean sigmoid(-z_i) = logit of the mean probability.
            log_mean_p = tf.reduce_logsumexp(tf.math.log_sigmoid(logits), axis=0) - tf.math.log(count)
            log_mean_q = tf.reduce_logsumexp(tf.math.log_sigmoid(-logits), axis=0) - tf.math.log(count)
            return log_mean_p - log_mean_q
        if self.output_kind == "probability":
            return tf.reduce_mean(tf.nn.softmax(logits, axis=-1), axis=0)
        return tf.reduce_logsumexp(tf.nn.log_softmax(logits, axis=-1), axis=0) - tf.math.log(count)

    def get_config(self):
        config = super().get_config()
        config["output"] = self.output_kind
        return config


def _input_signature(model: tf.keras.Model):
    inputs = getattr(model, "_nested_inputs", None)
    if inputs is None:
        raise EnsembleError(
            f"member {model.name!r} has no functional inputs; build members with the functional API "
            "(tf.keras.Model(inputs, outputs))"
        )
    return tf.nest.map_structure(lambda tensor: (tuple(tensor.shape[1:]), tensor.dtype), inputs)


def average_members(members: Sequence[tf.keras.Model], output: str = "probability") -> tf.keras.Model:
    """One Keras model, with the members' inputs, averaging their probabilities (module doc: `output`)."""
    members = list(members)
    if not members:
        raise EnsembleError("an ensemble needs at least one member, got none")
    if output not in ENSEMBLE_OUTPUTS:
        raise EnsembleError(f"output must be one of {', '.join(ENSEMBLE_OUTPUTS)}, got {output!r}")
    signature = _input_signature(members[0])
    output_units = members[0].output_shape[-1]
    for index, member in enumerate(members[1:], start=1):
        other = _input_signature(member)
        if other != signature:
            raise EnsembleError(
                f"member {index} ({member.name!r}) takes inputs {other}, member 0 takes {signature}; "
                "all members must share one input signature"
            )
        if member.output_shape[-1] != output_units:
            raise EnsembleError(
                f"member {index} outputs {member.output_shape[-1]} units, member 0 outputs {output_units}"
            )
    if isinstance(members[0]._nested_inputs, dict):
        inputs = inputs_like(members[0])
    else:
        inputs = tf.nest.map_structure(
            lambda tensor: tf.keras.Input(shape=tensor.shape[1:], dtype=tensor.dtype), members[0]._nested_inputs
        )
    averaged = MemberAverage(members, output=output, name=f"member_average_{output}")(inputs)
    return tf.keras.Model(inputs=inputs, outputs=averaged, name=f"ensemble_of_{len(members)}")
