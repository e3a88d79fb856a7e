"""A Resolver that hands ClassSkew the ExampleStatistics of the previous span, and that span's Examples.

`PreviousSpanStrategy` keeps, among StatisticsGen's ExampleStatistics in ML Metadata, the
newest one of the second-highest span, reading each one's span through its lineage (see
`spans.py`: in TFX 1.16 the statistics do not carry it). Beside them it hands over the
Examples they were computed from, whose span ClassSkew writes into its report. The
Resolver node is ordered after StatisticsGen (an explicit upstream edge), so when it
resolves, the current run's statistics are published: the highest span is the current
one, the second-highest the previous one. With a single span (re-runs of the same data)
it resolves nothing, and ClassSkew's optional inputs stay empty: no drift section.

Wiring in `create_pipeline`:

    previous = previous_statistics_resolver(statistics_gen)
    class_skew = ClassSkew(
        ...,
        previous_statistics=previous.outputs[OUTPUT_KEY],
        previous_examples=previous.outputs[EXAMPLES_OUTPUT_KEY],
    )
    components = [..., previous, class_skew, ...]
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional

import ml_metadata as mlmd
from tfx import types
from tfx.dsl.components.base import base_node
from tfx.dsl.components.common import resolver

from components.class_skew.spans import artifact_span, lineage_span, source_artifact_ids

RESOLVER_ID = "PreviousSpanStatistics"
OUTPUT_KEY = "statistics"
EXAMPLES_OUTPUT_KEY = "examples"


def _newest(artifacts: List[types.Artifact]) -> types.Artifact:
    # Newest by MLMD id (ids grow with publication); ties on a fresh, unpublished list fall back to the URI.
    return max(artifacts, key=lambda a: (a.id, a.uri))


def previous_span_artifacts(
    artifacts: List[types.Artifact], span_of: Callable[[types.Artifact], int] = artifact_span
) -> List[types.Artifact]:
    """[the newest artifact of the second-highest span], or [] when there are fewer than two spans."""
    spans_by_id = {id(a): span_of(a) for a in artifacts}
    spans = sorted(set(spans_by_id.values()), reverse=True)
    if len(spans) < 2:
        return []
    return [_newest([a for a in artifacts if spans_by_id[id(a)] == spans[1]])]


def source_examples(
    store: Optional[mlmd.MetadataStore], statistics: List[types.Artifact], examples: List[types.Artifact]
) -> List[types.Artifact]:
    """[the Examples that `statistics` were computed from], or [] without statistics.

    Found through lineage; without a store (or lineage), the newest Examples of the statistics' span.
    """
    if not statistics:
        return []
    chosen = statistics[0]
    sources = set(source_artifact_ids(store, chosen)) if store is not None else set()
    matches = [a for a in examples if a.id in sources]
    if not matches:
        span = lineage_span(store, chosen)
        matches = [a for a in examples if artifact_span(a) == span]
    return [_newest(matches)] if matches else []


class PreviousSpanStrategy(resolver.ResolverStrategy):
    """Resolves each statistics channel to its newest artifact of the second-highest span, and its Examples."""

    def resolve_artifacts(
        self, store: mlmd.MetadataStore, input_dict: Dict[str, List[types.Artifact]]
    ) -> Optional[Dict[str, List[types.Artifact]]]:
        resolved = {
            key: previous_span_artifacts(artifacts, lambda artifact: lineage_span(store, artifact))
            for key, artifacts in input_dict.items()
            if key != EXAMPLES_OUTPUT_KEY
        }
        if EXAMPLES_OUTPUT_KEY in input_dict:
            resolved[EXAMPLES_OUTPUT_KEY] = source_examples(
                store, resolved.get(OUTPUT_KEY, []), input_dict[EXAMPLES_OUTPUT_KEY]
            )
        return resolved


def _every_run(channel: types.BaseChannel) -> types.BaseChannel:
    """A channel of every artifact the channel's producer published in this pipeline (all runs, not only this one)."""
    if not isinstance(channel, types.Channel) or not channel.producer_component_id:
        return channel
    return types.Channel(
        type=channel.type, producer_component_id=channel.producer_component_id, output_key=channel.output_key
    )


def previous_statistics_resolver(statistics_gen: base_node.BaseNode, resolver_id: str = RESOLVER_ID):
    """A Resolver node whose outputs are the previous span's ExampleStatistics and Examples (or nothing).

    It reads every ExampleStatistics that `statistics_gen` published in this pipeline (all runs),
    and the Examples it read them from, and is ordered after it, so the current run's statistics
    (the highest span) are among them.
    """
    node = resolver.Resolver(
        strategy_class=PreviousSpanStrategy,
        # The output keys are OUTPUT_KEY and EXAMPLES_OUTPUT_KEY.
        statistics=_every_run(statistics_gen.outputs["statistics"]),
        examples=_every_run(statistics_gen.inputs["examples"]),
    ).with_id(resolver_id)
    # Without this edge the Resolver may run before StatisticsGen publishes the current span,
    # and the "second-highest span" would be the one before the previous.
    node.add_upstream_node(statistics_gen)
    return node
