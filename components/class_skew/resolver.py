"""A Resolver that hands ClassSkew the ExampleStatistics of the previous span, for drift.

StatisticsGen copies the span of its input Examples onto its ExampleStatistics (the
`span` property, not a custom property, so TFX's SpanRangeStrategy cannot read it).
`PreviousSpanStrategy` keeps, among StatisticsGen's ExampleStatistics in ML Metadata,
the newest one of the second-highest span. The Resolver node is ordered after
StatisticsGen (an explicit upstream edge), so when it resolves, the current run's
statistics are published: the highest span is the current one, the second-highest the
previous one.
With a single span (re-runs of the same data) it resolves nothing, and ClassSkew's
optional input stays empty: no drift section.

Wiring in `create_pipeline`:

    previous_statistics = previous_statistics_resolver(statistics_gen)
    class_skew = ClassSkew(..., previous_statistics=previous_statistics.outputs["statistics"])
    components = [..., previous_statistics, class_skew, ...]
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx import types
from tfx.dsl.components.base import base_node
from tfx.dsl.components.common import resolver
from tfx.types import standard_artifacts

RESOLVER_ID = "PreviousSpanStatistics"
OUTPUT_KEY = "statistics"


def _span(artifact: types.Artifact) -> int:
    return int(artifact.span) if artifact.has_property("span") else 0


def lineage_span(store: Optional[mlmd.MetadataStore], artifact: types.Artifact) -> int:
    """The span of the Examples an artifact was computed from, read through ML Metadata.

    In TFX 1.16's IR-based orchestration ExampleGen records the span as a custom
    property of its Examples, and StatisticsGen copies the (unset) `span` property, so
    every ExampleStatistics says span 0. The producing execution's input Examples know.
    """
    own = _span(artifact)
    if own > 0 or store is None or not artifact.id:
        return own
    produced_by = [
        event.execution_id
        for event in store.get_events_by_artifact_ids([artifact.id])
        if event.type == metadata_store_pb2.Event.OUTPUT
    ]
    if not produced_by:
        return own
    input_ids = [
        event.artifact_id
        for event in store.get_events_by_execution_ids(produced_by[:1])
        if event.type == metadata_store_pb2.Event.INPUT
    ]
    spans = [
        source.custom_properties["span"].int_value
        for source in store.get_artifacts_by_id(input_ids)
        if "span" in source.custom_properties
    ]
    return max(spans, default=own)


def previous_span_artifacts(
    artifacts: List[types.Artifact], span_of: Callable[[types.Artifact], int] = _span
) -> List[types.Artifact]:
    """[the newest artifact of the second-highest span], or [] when there are fewer than two spans."""
    spans_by_id = {id(a): span_of(a) for a in artifacts}
    spans = sorted(set(spans_by_id.values()), reverse=True)
    if len(spans) < 2:
        return []
    previous = [a for a in artifacts if spans_by_id[id(a)] == spans[1]]
    # Newest by MLMD id (ids grow with publication); ties on a fresh, unpublished list fall back to the URI.
    return [max(previous, key=lambda a: (a.id, a.uri))]


class PreviousSpanStrategy(resolver.ResolverStrategy):
    """Resolves each input channel to its newest artifact of the second-highest span."""

    def resolve_artifacts(
        self, store: mlmd.MetadataStore, input_dict: Dict[str, List[types.Artifact]]
    ) -> Optional[Dict[str, List[types.Artifact]]]:
        return {
            key: previous_span_artifacts(artifacts, lambda artifact: lineage_span(store, artifact))
            for key, artifacts in input_dict.items()
        }


def previous_statistics_resolver(statistics_gen: base_node.BaseNode, resolver_id: str = RESOLVER_ID):
    """A Resolver node whose `outputs["statistics"]` is the previous span's ExampleStatistics (or nothing).

    It reads every ExampleStatistics that `statistics_gen` published in this pipeline (all runs)
    and is ordered after it, so the current run's statistics (the highest span) are among them.
    """
    node = resolver.Resolver(
        strategy_class=PreviousSpanStrategy,
        **{
            OUTPUT_KEY: types.Channel(
                type=standard_artifacts.ExampleStatistics,
                producer_component_id=statistics_gen.id,
                output_key="statistics",
            )
        },
    ).with_id(resolver_id)
    # Without this edge the Resolver may run before StatisticsGen publishes the current span,
    # and the "second-highest span" would be the one before the previous.
    node.add_upstream_node(statistics_gen)
    return node
