"""Rebalance component: seeded, exact under-, over-, hybrid sampling, SMOTE, noise and mixup of Examples.

Inputs:
- `examples` (Examples): tf.Example payload, e.g. CsvExampleGen's gzip TFRecords per `Split-<name>`.
- `class_skew` (ClassSkewReport, optional): ClassSkew's `class_skew.json`; its per-split class
  counts save the counting pass over the data (they are verified against the records seen).
Output:
- `rebalanced_examples` (Examples): the same split names, span and version; rebalanced splits as
  gzip TFRecords `Split-<name>/data_tfrecord*.gz`, every other split copied file by file (same
  bytes). Custom properties: `class_counts` (JSON {split: {"before": {...}, "after": {...}}}),
  `strategy`, `seed`, `rebalanced_splits`; plus `rebalance_summary.json` at the artifact root
  (TFX readers of Examples only look inside `Split-*` directories).
"""

from __future__ import annotations

import json
from typing import Optional, Sequence

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec

from components.common.component import component_spec
from components.common.parameters import check_component_arguments
from components.rebalance import executor
from components.rebalance.errors import RebalanceParameterError
from components.rebalance.spec import (
    CLASS_SKEW_KEY,
    EXAMPLES_KEY,
    FEATURE_KEYS,
    LABEL_KEY,
    RebalanceParameters,
    RebalanceSpec,
    smote_features,
)

# The default `parameters`: one frozen instance, so the defaults stay those of RebalanceParameters.
_DEFAULT_PARAMETERS = RebalanceParameters()


class Rebalance(base_beam_component.BaseBeamComponent):
    """Rebalances the classes of the chosen splits of an Examples artifact; copies the other splits."""

    SPEC_CLASS = RebalanceSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        class_skew: Optional[types.BaseChannel] = None,
        *,
        label_key: str,
        feature_keys: Sequence[str] = (),
        parameters: RebalanceParameters = _DEFAULT_PARAMETERS,
    ):
        """Checks the data set's names against the parameters now (RebalanceParameterError naming the setting).

        Args:
          examples: Examples with tf.Example payload.
          class_skew: optional ClassSkew report whose class counts replace the counting pass.
          label_key: the label feature; class names are its values as str ("0", "1", or the string).
          feature_keys: the data set's numeric model inputs; SMOTE, augment_noise and mixup alter
            them when `parameters.smote_feature_keys` is empty.
          parameters: what to rebalance and how (see RebalanceParameters; validated when built).
        """
        check_component_arguments("Rebalance", parameters, RebalanceParameters, label_key, RebalanceParameterError)
        feature_keys = (feature_keys,) if isinstance(feature_keys, str) else tuple(feature_keys)
        smote_features(parameters, label_key, feature_keys)
        inputs = {EXAMPLES_KEY: examples, CLASS_SKEW_KEY: class_skew}
        names = {LABEL_KEY: label_key, FEATURE_KEYS: json.dumps(list(feature_keys))}
        super().__init__(spec=component_spec(RebalanceSpec, inputs, parameters, **names))
