"""The previous-span resolver: picks the newest ExampleStatistics of the second-highest span."""

from __future__ import annotations

from tfx import types
from tfx import v1 as tfx
from tfx.dsl.components.common import resolver as tfx_resolver
from tfx.types import standard_artifacts

from components.class_skew import resolver


def stats_artifact(artifact_id, span):
    artifact = standard_artifacts.ExampleStatistics()
    artifact.id = artifact_id
    artifact.uri = f"/stats/{artifact_id}"
    artifact.span = span
    return artifact


def test_picks_newest_artifact_of_second_highest_span():
    artifacts = [stats_artifact(1, 0), stats_artifact(2, 1), stats_artifact(3, 2), stats_artifact(4, 1)]
    assert [a.id for a in resolver.previous_span_artifacts(artifacts)] == [4]


def test_single_span_resolves_nothing():
    artifacts = [stats_artifact(1, 3), stats_artifact(2, 3)]
    assert resolver.previous_span_artifacts(artifacts) == []
    assert resolver.previous_span_artifacts([]) == []


def test_strategy_keeps_every_key():
    strategy = resolver.PreviousSpanStrategy()
    result = strategy.resolve_artifacts(None, {"statistics": [stats_artifact(5, 7), stats_artifact(6, 8)]})
    assert [a.id for a in result["statistics"]] == [5]


def test_resolver_node_reads_statistics_gen_output_and_runs_after_it():
    examples = types.Channel(type=standard_artifacts.Examples)
    statistics_gen = tfx.components.StatisticsGen(examples=examples).with_id("MyStatisticsGen")
    node = resolver.previous_statistics_resolver(statistics_gen)
    assert isinstance(node, tfx_resolver.Resolver)
    assert node.id == resolver.RESOLVER_ID
    assert node.outputs[resolver.OUTPUT_KEY].type is standard_artifacts.ExampleStatistics
    assert statistics_gen in node.upstream_nodes
