"""ComponentExecutor: Do logs, decodes the settings and the label once, and hands `run` one Execution."""

from __future__ import annotations

import dataclasses
import os
from typing import List

import apache_beam as beam
import pytest
from tfx.dsl.components.base import base_beam_executor
from tfx.types import standard_artifacts

from components.common.component import LABEL_KEY
from components.common.executor import ComponentExecutor, Execution
from components.common.parameters import ComponentParameters, ParameterError, require


@dataclasses.dataclass(frozen=True)
class _Settings(ComponentParameters):
    SECTION = "example"

    ratio: float = 0.5
    enabled: bool = False

    def __post_init__(self) -> None:
        require(0.0 < self.ratio <= 1.0, f"example.ratio must be in (0, 1], got {self.ratio!r}")


PROPERTIES = {LABEL_KEY: "Class", **_Settings().to_exec_properties()}


class _Recorder(ComponentExecutor[_Settings]):
    """Keeps every Execution it is handed."""

    PARAMETERS = _Settings

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.executions: List[Execution[_Settings]] = []

    def run(self, execution: Execution[_Settings]) -> None:
        self.executions.append(execution)


class _BeamCounter(ComponentExecutor[_Settings], base_beam_executor.BaseBeamExecutor):
    """A Beam component's executor: `run` can build Beam pipelines."""

    PARAMETERS = _Settings

    def run(self, execution: Execution[_Settings]) -> None:
        path = os.path.join(execution.output("report").uri, "count")
        with self._make_beam_pipeline() as pipeline:
            counted = pipeline | beam.Create([1, 2, 3]) | beam.combiners.Count.Globally()
            _ = counted | beam.io.WriteToText(path, shard_name_template="")


def _artifact(artifact_type, uri):
    artifact = artifact_type()
    artifact.uri = uri
    return artifact


def test_run_gets_the_decoded_settings_the_label_and_the_artifacts(tmp_path):
    examples = _artifact(standard_artifacts.Examples, str(tmp_path / "examples"))
    model = _artifact(standard_artifacts.Model, str(tmp_path / "model"))
    exec_properties = {LABEL_KEY: "Class", **_Settings(ratio=0.25, enabled=True).to_exec_properties()}
    executor = _Recorder()
    executor.Do({"examples": [examples]}, {"model": [model]}, exec_properties)
    (execution,) = executor.executions
    assert execution.parameters == _Settings(ratio=0.25, enabled=True)
    assert execution.label_key == "Class"
    assert execution.input("examples") is examples
    assert execution.output("model") is model
    assert execution.exec_properties is exec_properties


def test_an_optional_input_is_empty_when_not_connected_or_resolved_to_nothing(tmp_path):
    examples = _artifact(standard_artifacts.Examples, str(tmp_path / "examples"))
    executor = _Recorder()
    executor.Do({"examples": [examples], "baseline": []}, {}, PROPERTIES)
    (execution,) = executor.executions
    assert execution.optional_inputs("baseline") == []
    assert execution.optional_inputs("previous") == []
    assert execution.optional_inputs("examples") == [examples]


def test_a_required_input_with_two_artifacts_is_refused(tmp_path):
    two = [_artifact(standard_artifacts.Examples, str(tmp_path / name)) for name in ("a", "b")]
    executor = _Recorder()
    executor.Do({"examples": two}, {}, PROPERTIES)
    with pytest.raises(ValueError, match="expected list length of one"):
        executor.executions[0].input("examples")


def test_bad_settings_raise_before_run(tmp_path):
    executor = _Recorder()
    with pytest.raises(ParameterError, match=r"^example.ratio must be in \(0, 1\], got 2.0$"):
        executor.Do({}, {}, {**PROPERTIES, "ratio": 2.0})
    assert executor.executions == []


def test_a_beam_executor_keeps_its_beam_pipeline(tmp_path):
    report = _artifact(standard_artifacts.ModelEvaluation, str(tmp_path / "report"))
    context = base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=[], tmp_dir=str(tmp_path))
    _BeamCounter(context).Do({}, {"report": [report]}, PROPERTIES)
    assert (tmp_path / "report" / "count").read_text() == "3\n"
