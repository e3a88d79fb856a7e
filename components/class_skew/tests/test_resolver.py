"""The previous-span resolver: picks the newest ExampleStatistics of the second-highest span, and its Examples."""

from __future__ import annotations

from tfx import v1 as tfx
from tfx.dsl.components.common import resolver as tfx_resolver
from tfx.types import standard_artifacts

from components.class_skew import resolver
from components.class_skew.spans import artifact_span


def stats_artifact(artifact_id, span):
    artifact = standard_artifacts.ExampleStatistics()
    artifact.id = artifact_id
    artifact.uri = f"/stats/{artifact_id}"
    artifact.span = span
    return artifact


def examples_artifact(artifact_id, span):
    """Examples as ExampleGen 1.16 records them: the span as a custom property only."""
    artifact = standard_artifacts.Examples()
    artifact.id = artifact_id
    artifact.uri = f"/examples/{artifact_id}"
    artifact.set_int_custom_property("span", span)
    return artifact


def test_picks_newest_artifact_of_second_highest_span():
    artifacts = [stats_artifact(1, 0), stats_artifact(2, 1), stats_artifact(3, 2), stats_artifact(4, 1)]
    assert [a.id for a in resolver.previous_span_artifacts(artifacts)] == [4]


def test_single_span_resolves_nothing():
    artifacts = [stats_artifact(1, 3), stats_artifact(2, 3)]
    assert resolver.previous_span_artifacts(artifacts) == []
    assert resolver.previous_span_artifacts([]) == []


def test_the_span_is_the_property_else_examplegens_custom_property():
    assert artifact_span(stats_artifact(1, 4)) == 4
    assert artifact_span(examples_artifact(2, 5)) == 5
    assert artifact_span(standard_artifacts.Examples()) == 0


def test_strategy_keeps_every_key():
    strategy = resolver.PreviousSpanStrategy()
    result = strategy.resolve_artifacts(None, {"statistics": [stats_artifact(5, 7), stats_artifact(6, 8)]})
    assert [a.id for a in result["statistics"]] == [5]


def test_strategy_hands_over_the_examples_of_the_previous_span():
    strategy = resolver.PreviousSpanStrategy()
    examples = [examples_artifact(10, 7), examples_artifact(11, 8), examples_artifact(12, 7)]
    result = strategy.resolve_artifacts(
        None, {"statistics": [stats_artifact(5, 7), stats_artifact(6, 8)], "examples": examples}
    )
    assert [a.id for a in result["statistics"]] == [5]
    assert [a.id for a in result["examples"]] == [12]
    single_span = strategy.resolve_artifacts(None, {"statistics": [stats_artifact(6, 8)], "examples": examples})
    assert single_span == {"statistics": [], "examples": []}


def test_resolver_node_reads_statistics_gen_output_and_its_examples_and_runs_after_it():
    example_gen = tfx.components.CsvExampleGen(input_base="/data").with_id("MyExampleGen")
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"]).with_id("MyStatisticsGen")
    node = resolver.previous_statistics_resolver(statistics_gen)
    assert isinstance(node, tfx_resolver.Resolver)
    assert node.id == resolver.RESOLVER_ID
    assert node.outputs[resolver.OUTPUT_KEY].type is standard_artifacts.ExampleStatistics
    assert node.outputs[resolver.EXAMPLES_OUTPUT_KEY].type is standard_artifacts.Examples
    assert statistics_gen in node.upstream_nodes
