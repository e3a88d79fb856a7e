"""Batches drawn with a target class mix, as an in-model alternative to the Rebalance component.

`split_by_class` turns one unbatched stream of examples into one filtered stream per class;
`balanced_dataset` repeats each class stream (so minority examples recycle) and draws from
them with `tf.data.Dataset.sample_from_datasets` at the target mix, with a fixed seed, so the
same inputs give the same batches.

The result is infinite: give `model.fit` a `steps_per_epoch`. Each class stream re-reads its
source every time it is exhausted; a minority class filtered out of a large split is cheap to
keep in memory, and `cache_classes` does that (for those classes only, never the majority).
"""

from __future__ import annotations

import math
from typing import Collection, Hashable, Mapping, Optional, Sequence

import tensorflow as tf
from absl import logging


class BalancedBatchesError(ValueError):
    """The per-class streams, the class mix or the batch settings are inconsistent."""


def _label_of(element, label_key: Optional[str]):
    """The label tensor of one unbatched element: a features dict or a (features, label) pair."""
    if isinstance(element, tuple):
        if len(element) != 2:
            raise BalancedBatchesError(f"expected (features, label) pairs, got a tuple of {len(element)} parts")
        return element[1]
    if label_key is None:
        raise BalancedBatchesError("elements are feature dicts; pass label_key to say which entry is the label")
    if label_key not in element:
        raise BalancedBatchesError(f"label {label_key!r} is not among the features {sorted(element)}")
    return element[label_key]


def split_by_class(
    dataset: tf.data.Dataset, label_key: Optional[str], classes: Sequence[Hashable]
) -> dict[Hashable, tf.data.Dataset]:
    """One stream per class, filtered from an UNBATCHED dataset.

    Elements are feature dicts holding the label under `label_key` (shape [] or [1]), or
    `(features, label)` pairs (then `label_key` may be None). Each returned stream reads
    `dataset` in full; nothing is loaded into memory.
    """
    if not classes:
        raise BalancedBatchesError("classes must name at least one class")
    if len(set(classes)) != len(classes):
        raise BalancedBatchesError(f"classes must be distinct, got {list(classes)}")
    spec = dataset.element_spec
    label_spec = _label_of(spec, label_key)
    if not isinstance(label_spec, tf.TensorSpec):
        raise BalancedBatchesError(f"the label must be a dense tensor, got {label_spec}")
    if label_spec.shape.rank is not None and label_spec.shape.num_elements() not in (None, 1):
        raise BalancedBatchesError(
            f"the label has shape {label_spec.shape}; split_by_class needs an unbatched dataset "
            "(one label per element): call it before .batch(), or .unbatch() first"
        )

    def keeps(target):
        @tf.autograph.experimental.do_not_convert
        def predicate(*element):
            element = element[0] if len(element) == 1 else tuple(element)
            label = tf.reshape(_label_of(element, label_key), [])
            return tf.equal(label, tf.constant(target, dtype=label.dtype))

        return predicate

    return {target: dataset.filter(keeps(target)) for target in classes}


def _normalised_mix(class_mix: Mapping[Hashable, float], classes: Collection[Hashable]) -> dict:
    missing = [label for label in classes if label not in class_mix]
    extra = [label for label in class_mix if label not in classes]
    if missing or extra:
        raise BalancedBatchesError(
            f"class_mix and per_class_datasets must name the same classes; "
            f"missing from class_mix: {missing}, without a dataset: {extra}"
        )
    bad = {label: share for label, share in class_mix.items() if not math.isfinite(share) or share <= 0}
    if bad:
        raise BalancedBatchesError(f"class_mix shares must be finite and > 0, got {bad}; drop a class to exclude it")
    total = float(sum(class_mix.values()))
    return {label: float(class_mix[label]) / total for label in classes}


def _require_nonempty(label: Hashable, dataset: tf.data.Dataset) -> None:
    for _ in dataset.take(1):
        return
    raise BalancedBatchesError(
        f"the stream of class {label!r} is empty, so no batch can hold the target share of it; "
        "check the split's class counts (ClassSkew) or drop the class from class_mix"
    )


def balanced_dataset(
    per_class_datasets: Mapping[Hashable, tf.data.Dataset],
    class_mix: Mapping[Hashable, float],
    batch_size: int,
    seed: int,
    *,
    shuffle_buffer: int = 0,
    cache_classes: Collection[Hashable] = (),
    check_nonempty: bool = True,
) -> tf.data.Dataset:
    """An infinite dataset of batches whose class shares follow `class_mix` in expectation.

    Each example of a batch comes from class c with probability class_mix[c] (the shares are
    normalised to sum to 1). `shuffle_buffer` > 0 shuffles each class stream (seeded, reshuffled
    each pass); `cache_classes` keeps the named (small) classes in memory after their first pass.
    With `check_nonempty`, one element of each stream is read now so an empty class fails here,
    not as a silently wrong mix during training.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise BalancedBatchesError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise BalancedBatchesError(f"seed must be an integer, got {seed!r}")
    if shuffle_buffer < 0:
        raise BalancedBatchesError(f"shuffle_buffer must be >= 0, got {shuffle_buffer!r}")
    if not per_class_datasets:
        raise BalancedBatchesError("per_class_datasets is empty; give one dataset per class")
    unknown_cached = [label for label in cache_classes if label not in per_class_datasets]
    if unknown_cached:
        raise BalancedBatchesError(f"cache_classes names classes without a dataset: {unknown_cached}")
    classes = list(per_class_datasets)
    mix = _normalised_mix(class_mix, classes)
    first_spec = per_class_datasets[classes[0]].element_spec
    for label in classes[1:]:
        try:
            tf.nest.assert_same_structure(first_spec, per_class_datasets[label].element_spec)
        except (TypeError, ValueError) as error:
            raise BalancedBatchesError(
                f"the stream of class {label!r} has elements shaped unlike class {classes[0]!r}: {error}"
            ) from error

    streams = []
    for index, label in enumerate(classes):
        stream = per_class_datasets[label]
        if check_nonempty:
            _require_nonempty(label, stream)
        if label in cache_classes:
            stream = stream.cache()
        if shuffle_buffer:
            stream = stream.shuffle(shuffle_buffer, seed=seed + 1 + index, reshuffle_each_iteration=True)
        streams.append(stream.repeat())
    logging.info(
        "Balanced batches of %d with class mix %s (seed %d, cached classes %s)",
        batch_size,
        mix,
        seed,
        sorted(map(str, cache_classes)),
    )
    mixed = tf.data.Dataset.sample_from_datasets(
        streams, weights=[mix[label] for label in classes], seed=seed, stop_on_empty_dataset=True
    )
    return mixed.batch(batch_size, drop_remainder=True)
