"""component_spec: a Spec from the input channels, a new channel per declared output, the names and the settings."""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

from tfx import types
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.common.component import LABEL_KEY, component_spec
from components.common.parameters import ComponentParameters


@dataclasses.dataclass(frozen=True)
class _Settings(ComponentParameters):
    SECTION = "example"

    ratio: float = 0.5
    splits: Tuple[str, ...] = ("train",)
    limit: Optional[int] = None


class _Spec(types.ComponentSpec):
    PARAMETERS = {LABEL_KEY: ExecutionParameter(type=str), **_Settings.execution_parameters()}
    INPUTS = {
        "examples": ChannelParameter(type=standard_artifacts.Examples),
        "schema": ChannelParameter(type=standard_artifacts.Schema, optional=True),
    }
    OUTPUTS = {
        "model": ChannelParameter(type=standard_artifacts.Model),
        "blessing": ChannelParameter(type=standard_artifacts.ModelBlessing),
    }


def test_the_spec_holds_the_inputs_a_new_channel_per_output_the_names_and_the_settings():
    examples = types.Channel(type=standard_artifacts.Examples)
    spec = component_spec(_Spec, {"examples": examples, "schema": None}, _Settings(ratio=0.25), label_key="Class")
    assert isinstance(spec, _Spec)
    assert spec.inputs["examples"] is examples
    assert "schema" not in spec.inputs
    assert {key: channel.type for key, channel in spec.outputs.items()} == {
        "model": standard_artifacts.Model,
        "blessing": standard_artifacts.ModelBlessing,
    }
    # None settings are left out, tuples travel as JSON text (as `to_exec_properties` says).
    assert spec.exec_properties == {LABEL_KEY: "Class", "ratio": 0.25, "splits": '["train"]'}


def test_each_spec_gets_channels_of_its_own():
    inputs = {"examples": types.Channel(type=standard_artifacts.Examples)}
    first = component_spec(_Spec, inputs, _Settings(), label_key="Class")
    second = component_spec(_Spec, inputs, _Settings(), label_key="Class")
    assert first.outputs["model"] is not second.outputs["model"]
