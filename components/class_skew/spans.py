"""Which span an artifact belongs to: its own record of it, or its lineage in ML Metadata.

In TFX 1.16's IR-based orchestration ExampleGen records the span as the `span` custom
property of its Examples and leaves the `span` property unset; StatisticsGen copies that
unset property, so every ExampleStatistics says span 0. The Examples know their span, and
an ExampleStatistics' span is that of the Examples its producing execution read.
"""

from __future__ import annotations

from typing import List, Optional

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx import types

SPAN = "span"


def artifact_span(artifact: types.Artifact) -> int:
    """The span the artifact records: its `span` property, else its `span` custom property, else 0."""
    if artifact.has_property(SPAN) and artifact.span:
        return int(artifact.span)
    if artifact.has_custom_property(SPAN):
        return int(artifact.get_int_custom_property(SPAN))
    return 0


def source_artifact_ids(store: mlmd.MetadataStore, artifact: types.Artifact) -> List[int]:
    """Ids of the inputs of the execution that produced `artifact` (none if it is not in the store)."""
    if not artifact.id:
        return []
    produced_by = [
        event.execution_id
        for event in store.get_events_by_artifact_ids([artifact.id])
        if event.type == metadata_store_pb2.Event.OUTPUT
    ]
    if not produced_by:
        return []
    return [
        event.artifact_id
        for event in store.get_events_by_execution_ids(produced_by[:1])
        if event.type == metadata_store_pb2.Event.INPUT
    ]


def lineage_span(store: Optional[mlmd.MetadataStore], artifact: types.Artifact) -> int:
    """The artifact's own span if it records one, else the highest span among the inputs it was made from."""
    own = artifact_span(artifact)
    if own > 0 or store is None:
        return own
    spans = [
        source.custom_properties[SPAN].int_value
        for source in store.get_artifacts_by_id(source_artifact_ids(store, artifact))
        if SPAN in source.custom_properties
    ]
    return max(spans, default=own)
