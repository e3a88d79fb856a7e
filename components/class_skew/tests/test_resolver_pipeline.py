"""The previous-span resolver inside a real (tiny) TFX pipeline run twice with LocalDagRunner.

A stand-in for StatisticsGen publishes prepared TFDV statistics with a given span, so the
test takes seconds, not minutes; ClassSkew and the Resolver are the real ones. Run 1
(span 1) has no previous span: ClassSkew runs with the optional input empty. Run 2
(span 2) gets span 1's statistics and records the drift.
"""

import os

import pytest
from tfx import v1 as tfx
from tfx.dsl.component.experimental.annotations import OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.dsl.io import fileio
from tfx.orchestration import metadata
from tfx.types import standard_artifacts
from tfx.utils import io_utils

from components.class_skew import report as report_module
from components.class_skew import resolver
from components.class_skew.component import ClassSkew
from components.class_skew.tests import fixtures


@component
def PreparedStatistics(  # noqa: N802 (TFX names components like classes)
    source_dir: Parameter[str], span: Parameter[int], statistics: OutputArtifact[standard_artifacts.ExampleStatistics]
) -> None:
    """Publishes the Split-*/FeatureStats.pb files under `source_dir` as ExampleStatistics of `span`."""
    splits = sorted(name[len("Split-") :] for name in fileio.listdir(source_dir) if name.startswith("Split-"))
    for split in splits:
        target = os.path.join(statistics.uri, f"Split-{split}")
        fileio.makedirs(target)
        fileio.copy(
            os.path.join(source_dir, f"Split-{split}", "FeatureStats.pb"), os.path.join(target, "FeatureStats.pb")
        )
    statistics.split_names = '["' + '","'.join(splits) + '"]'
    statistics.span = span


def _pipeline(root: str, source_dir: str, span: int, schema_path: str) -> tfx.dsl.Pipeline:
    statistics_gen = PreparedStatistics(source_dir=source_dir, span=span).with_id("StatisticsGen")
    schema_gen = tfx.components.ImportSchemaGen(schema_file=schema_path)
    previous = resolver.previous_statistics_resolver(statistics_gen)
    class_skew = ClassSkew(
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_gen.outputs["schema"],
        previous_statistics=previous.outputs[resolver.OUTPUT_KEY],
    )
    return tfx.dsl.Pipeline(
        pipeline_name="class_skew_resolver_test",
        pipeline_root=os.path.join(root, "pipeline_root"),
        components=[statistics_gen, schema_gen, previous, class_skew],
        enable_cache=False,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(os.path.join(root, "mlmd.sqlite")),
    )


def _latest_report(root: str) -> dict:
    config = metadata.sqlite_metadata_connection_config(os.path.join(root, "mlmd.sqlite"))
    with metadata.Metadata(config) as store:
        artifacts = store.store.get_artifacts_by_type("imbalanced.ClassSkewReport")
    return report_module.load_report(max(artifacts, key=lambda a: a.id).uri)


@pytest.mark.e2e
def test_second_run_compares_with_previous_span(tmp_path):
    root = str(tmp_path)
    schema = fixtures.parse_schema(fixtures.BINARY_SCHEMA)
    schema_path = os.path.join(root, "schema_in", "schema.pbtxt")
    io_utils.write_pbtxt_file(schema_path, schema)
    spans = {
        1: {"train": {0: 90, 1: 10}, "eval": {0: 45, 1: 5}},
        2: {"train": {0: 80, 1: 20}, "eval": {0: 40, 1: 10}},
    }
    for span, split_counts in spans.items():
        split_stats = {
            split: fixtures.statistics(fixtures.label_column(counts), schema) for split, counts in split_counts.items()
        }
        source = fixtures.statistics_artifact(root, f"prepared_span_{span}", split_stats, span=span)
        tfx.orchestration.LocalDagRunner().run(_pipeline(root, source.uri, span, schema_path))
        report = _latest_report(root)
        assert report["span"] == span
        assert report["splits"]["train"]["class_counts"] == {
            "0": split_counts["train"][0],
            "1": split_counts["train"][1],
        }
        if span == 1:
            assert report["drift"] is None
        else:
            assert report["drift"]["previous_span"] == 1
            assert report["drift"]["splits"]["train"]["previous_class_counts"] == {"0": 90, "1": 10}
            assert report["drift"]["splits"]["train"]["linf"] == pytest.approx(0.1)
