"""The previous-span resolver and ClassSkew inside a real (tiny) TFX pipeline run on two spans.

CsvExampleGen reads `span-{SPAN}/train/*` and `span-{SPAN}/eval/*` (splits given, so the
counts are exact), StatisticsGen and ImportSchemaGen are TFX's own: their artifacts carry
the spans as TFX 1.16 records them (ExampleGen: a custom property of the Examples;
StatisticsGen: span 0). Run 1 (span 1) has no previous span: ClassSkew runs with the
optional inputs empty. Run 2 (span 2) gets span 1's statistics and records the drift,
naming both spans right.
"""

import os

import pytest
from tfx import v1 as tfx
from tfx.orchestration import metadata
from tfx.utils import io_utils

from components.class_skew import resolver
from components.class_skew.component import ClassSkew
from components.class_skew.report import LabelDistributionReport
from components.class_skew.tests import fixtures

SPANS = {
    1: {"train": {0: 90, 1: 10}, "eval": {0: 45, 1: 5}},
    2: {"train": {0: 80, 1: 20}, "eval": {0: 40, 1: 10}},
}


def _write_span(data_root: str, span: int) -> None:
    for split, counts in SPANS[span].items():
        folder = os.path.join(data_root, f"span-{span}", split)
        os.makedirs(folder)
        rows = [f"{index}.5,{label}" for index, label in enumerate(fixtures.label_column(counts))]
        with open(os.path.join(folder, "rows.csv"), "w") as handle:
            handle.write("\n".join(["x,Class", *rows]) + "\n")


def _pipeline(root: str, data_root: str, schema_path: str) -> tfx.dsl.Pipeline:
    example_gen = tfx.components.CsvExampleGen(
        input_base=data_root,
        input_config=tfx.proto.Input(
            splits=[
                tfx.proto.Input.Split(name=split, pattern=f"span-{{SPAN}}/{split}/*") for split in ("train", "eval")
            ]
        ),
    )
    schema_gen = tfx.components.ImportSchemaGen(schema_file=schema_path)
    statistics_gen = tfx.components.StatisticsGen(
        examples=example_gen.outputs["examples"], schema=schema_gen.outputs["schema"]
    )
    previous = resolver.previous_statistics_resolver(statistics_gen)
    class_skew = ClassSkew(
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_gen.outputs["schema"],
        previous_statistics=previous.outputs[resolver.OUTPUT_KEY],
        examples=example_gen.outputs["examples"],
        previous_examples=previous.outputs[resolver.EXAMPLES_OUTPUT_KEY],
        label_key="Class",
    )
    return tfx.dsl.Pipeline(
        pipeline_name="class_skew_resolver_test",
        pipeline_root=os.path.join(root, "pipeline_root"),
        components=[example_gen, schema_gen, statistics_gen, previous, class_skew],
        enable_cache=True,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(os.path.join(root, "mlmd.sqlite")),
    )


def _latest_report(root: str) -> LabelDistributionReport:
    config = metadata.sqlite_metadata_connection_config(os.path.join(root, "mlmd.sqlite"))
    with metadata.Metadata(config) as store:
        artifacts = store.store.get_artifacts_by_type("imbalanced.ClassSkewReport")
    return LabelDistributionReport.load(max(artifacts, key=lambda a: a.id).uri)


@pytest.mark.e2e
def test_second_span_compares_with_the_first_and_names_both(tmp_path):
    root = str(tmp_path)
    data_root = os.path.join(root, "data")
    schema_path = os.path.join(root, "schema_in", "schema.pbtxt")
    io_utils.write_pbtxt_file(schema_path, fixtures.parse_schema(fixtures.BINARY_SCHEMA))
    for span, split_counts in SPANS.items():
        _write_span(data_root, span)
        tfx.orchestration.LocalDagRunner().run(_pipeline(root, data_root, schema_path))
        report = _latest_report(root)
        assert report.span == span
        assert report.splits["train"].class_counts == {
            "0": split_counts["train"][0],
            "1": split_counts["train"][1],
        }
        if span == 1:
            assert report.drift is None
        else:
            assert report.drift.previous_span == 1
            assert report.drift.splits["train"].previous_class_counts == {"0": 90, "1": 10}
            assert report.drift.splits["train"].linf == pytest.approx(0.1)
            drift_messages = [finding.message for finding in report.findings if finding.kind == "drift"]
            assert drift_messages and all("drift since span 1 " in message for message in drift_messages)
