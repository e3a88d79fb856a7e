"""What the Trainer's joined ensembles share: a Keras layer that holds member models, and inputs shaped like theirs.

Balanced bagging (`ensemble.MemberAverage`) and mixed-strategy ensembles (`mixed_ensemble.MemberVote`, and
each member's prior shift) join trained members into one Keras model that takes the members' own inputs, so
the serving signature treats an ensemble as one model. Saving such a model stores its members inside the
layer's config, and loading rebuilds them from it; that round trip is written here once.
"""

from __future__ import annotations

from typing import Dict, Sequence

import tensorflow as tf


class MembersLayer(tf.keras.layers.Layer):
    """A layer that runs member models; its config carries them (a subclass adds its own fields to the config)."""

    def __init__(self, members: Sequence[tf.keras.Model], **kwargs):
        super().__init__(**kwargs)
        self.members = list(members)

    def get_config(self):
        config = super().get_config()
        config["members"] = [tf.keras.layers.serialize(member) for member in self.members]
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["members"] = [tf.keras.layers.deserialize(member) for member in config["members"]]
        return cls(**config)


def inputs_like(model: tf.keras.Model) -> Dict[str, tf.Tensor]:
    """New Keras inputs with the names, shapes and dtypes of a functional model's dict inputs."""
    return {
        name: tf.keras.Input(shape=tensor.shape[1:], dtype=tensor.dtype, name=name)
        for name, tensor in model._nested_inputs.items()
    }
