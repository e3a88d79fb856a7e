"""The start of every custom component's run, written once: log, decode the settings, name the label.

TFX calls an executor's `Do(input_dict, output_dict, exec_properties)`. Every custom component
here begins it alike: log what it was handed, decode its parameters dataclass from the execution
properties (`ComponentParameters.from_exec_properties`) and read the label's name. `ComponentExecutor`
does that and hands the component's `run` one `Execution`, which also finds the single artifact
behind an input or output key, so the executors hold only their own work.

A Beam component's executor lists `base_beam_executor.BaseBeamExecutor` after it among its bases,
so that it keeps `_make_beam_pipeline`.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, Dict, Generic, List, Mapping, Type

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components.common.component import LABEL_KEY
from components.common.parameters import ParametersT


@dataclasses.dataclass(frozen=True)
class Execution(Generic[ParametersT]):
    """One run of an executor: its artifacts by key, its settings decoded once, and the label's name."""

    input_dict: Mapping[str, List[types.Artifact]]
    output_dict: Mapping[str, List[types.Artifact]]
    exec_properties: Mapping[str, Any]
    parameters: ParametersT
    label_key: str

    def input(self, key: str) -> types.Artifact:
        """The one artifact of a required input (TFX's ValueError if there is not exactly one)."""
        return artifact_utils.get_single_instance(self.input_dict[key])

    def optional_inputs(self, key: str) -> List[types.Artifact]:
        """The artifacts of an optional input: empty when it is not connected or its resolver found none."""
        return list(self.input_dict.get(key) or [])

    def output(self, key: str) -> types.Artifact:
        """The one artifact of an output."""
        return artifact_utils.get_single_instance(self.output_dict[key])


class ComponentExecutor(base_executor.BaseExecutor, Generic[ParametersT]):
    """`Do` for an executor whose execution properties are the label's name plus one parameters dataclass.

    Subclasses set `PARAMETERS` to that dataclass and implement `run`.
    """

    PARAMETERS: Type[ParametersT]

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        parameters = self.PARAMETERS.from_exec_properties(exec_properties)
        label_key = str(exec_properties[LABEL_KEY])
        self.run(Execution(input_dict, output_dict, exec_properties, parameters, label_key))

    @abc.abstractmethod
    def run(self, execution: Execution[ParametersT]) -> None:
        """The component's own work, once the settings are decoded."""
