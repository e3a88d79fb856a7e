"""A multiclass label (k = 4) through the description, data prep and the config; its mistakes in one line each."""

from __future__ import annotations

import collections
import pathlib

import pytest

from pipeline.config import PipelineConfig
from pipeline.dataset import SPLIT_NAMES, DescriptionError, load_description
from pipeline.errors import ConfigError
from pipeline.overrides import apply_overrides
from pipeline.prepare import SPLIT_FILENAME, prepare_dataset
from pipeline.splits import split_targets
from pipeline.table_scan import PrepError
from tests import tables
from tests.configs import placeholder_config
from tests.test_prepare import read_examples, values

MACHINES = {
    "data": "machines.csv",
    "label": {"column": "kind", "classes": ["none", "heat", "power", "wear"], "protect": ["power", "wear"]},
}


def prepare_failures(tmp_path: pathlib.Path):
    description = load_description(tables.failure_types(tmp_path / "in"))
    return description, prepare_dataset(description, {1: description.data}, tmp_path / "prepared")


def test_classes_and_protected_indices_come_from_the_description(tmp_path):
    description = load_description(tables.failure_types(tmp_path))
    assert description.class_names == tables.FAILURE_CLASSES
    assert description.protected_classes == (2, 3)
    assert description.label.num_classes == 4 and description.label.class_index("tool_wear") == 3
    binary = load_description(tables.text_labels(tmp_path / "binary"))
    assert binary.class_names == () and binary.protected_classes == () and binary.label.num_classes == 2


def test_four_classes_are_split_exactly_and_written_as_class_indices(tmp_path):
    description, prepared = prepare_failures(tmp_path)
    span = prepared.spans[1]
    raw = collections.Counter(line.rsplit(",", 1)[1].strip() for line in description.data.read_text().splitlines()[1:])
    assert span.class_counts == {index: raw[name] for index, name in enumerate(tables.FAILURE_CLASSES)}
    assert min(span.class_counts.values()) < 0.05 * span.rows, "two rare classes"
    shares = description.split.shares()
    for cls, count in span.class_counts.items():
        assert {split: span.split_counts[split][cls] for split in SPLIT_NAMES} == split_targets(count, shares)
        for split in SPLIT_NAMES:
            assert abs(span.split_counts[split][cls] - shares[split] * count) <= 1, (cls, split)
    for split in SPLIT_NAMES:
        examples = [values(example) for example in read_examples(span.folder / split / SPLIT_FILENAME)]
        labels = collections.Counter(example["failure_type"] for example in examples)
        assert labels == span.split_counts[split]
        assert all("machine_id" not in example and example["line"] in (b"L", b"M", b"H") for example in examples)
    assert prepared.types.numeric == ("speed", "torque", "tool_minutes")
    assert prepared.types.categorical == ("line",) and prepared.types.nullable == ("torque",)


def test_binary_descriptions_keep_their_prepared_spans(tmp_path):
    """Adding the multiclass keys changed no binary fingerprint: a prepared span is reused as it was."""
    description = load_description(tables.text_labels(tmp_path / "in"))
    first = prepare_dataset(description, {1: description.data}, tmp_path / "prepared")
    manifest = (first.spans[1].folder / "prepared.json").read_text()
    again = prepare_dataset(description, {1: description.data}, tmp_path / "prepared")
    assert again.spans[1].reused and (again.spans[1].folder / "prepared.json").read_text() == manifest


def test_a_keel_file_with_an_at_header_reads_with_read_comment(tmp_path):
    """KEEL and ARFF files start with `@relation ... @data`; `read.comment: "@"` skips those lines."""
    header = ["@relation blocks", "@attribute height integer", "@attribute kind {a, b, c}", "@data"]
    rows = [f"{i % 9}, {'a' if i % 10 else ('b' if i % 20 else 'c')}" for i in range(80)]
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "blocks.dat").write_text("\n".join(header + rows + ["7, d"]) + "\n")
    tree = {
        "data": "blocks.dat",
        "read": {"header": False, "columns": ["height", "kind"], "comment": "@"},
        "label": {"column": "kind", "classes": ["a", "b", "c"], "protect": ["c"]},
    }
    description = load_description(tables.write_description(folder, tree))
    line = len(header) + len(rows) + 1
    with pytest.raises(PrepError, match=rf"blocks.dat:{line}: label 'kind' is 'd', which is not among label.classes"):
        prepare_dataset(description, {1: description.data}, tmp_path / "prepared")
    (folder / "blocks.dat").write_text("\n".join(header + rows) + "\n")
    prepared = prepare_dataset(description, {1: description.data}, tmp_path / "prepared")
    assert prepared.spans[1].class_counts == {0: 72, 1: 4, 2: 4} and prepared.types.numeric == ("height",)


def _machines(tmp_path: pathlib.Path, kinds, tree=None):
    folder = tmp_path / "in"
    folder.mkdir(parents=True, exist_ok=True)
    rows = [f"{index},{kind}" for index, kind in enumerate(kinds)]
    (folder / "machines.csv").write_text("speed,kind\n" + "\n".join(rows) + "\n")
    description = load_description(tables.write_description(folder, tree or MACHINES))
    return prepare_dataset(description, {1: description.data}, tmp_path / "prepared")


ENOUGH = ["none"] * 40 + ["heat"] * 10 + ["power"] * 5 + ["wear"] * 5


@pytest.mark.parametrize(
    "kinds, message",
    [
        (
            [*ENOUGH, "hot"],
            r"machines.csv:62: label 'kind' is 'hot', which is not among label.classes "
            r"\['none', 'heat', 'power', 'wear'\]; add it to label.classes or fix the row",
        ),
        (
            ["none"] * 40 + ["heat"] * 10 + ["power"] * 5,
            r"class 'wear' of label.classes never occurs in column 'kind' \(values found: .*\); remove it from "
            "label.classes",
        ),
        (
            ["none"] * 40 + ["heat"] * 10 + ["power"] * 5 + ["wear"] * 2,
            r"column 'kind' has 2 rows of class 'wear'; at least 4 are needed so that train, valid and eval each "
            "get one",
        ),
    ],
    ids=["unknown-class", "class-never-occurs", "too-few-rows-of-a-class"],
)
def test_bad_multiclass_tables(tmp_path, kinds, message):
    with pytest.raises(PrepError, match=message):
        _machines(tmp_path, kinds)
    assert not (tmp_path / "prepared").exists() or not any((tmp_path / "prepared").iterdir())


LABEL = MACHINES["label"]


@pytest.mark.parametrize(
    "label, message",
    [
        pytest.param(
            {**LABEL, "positive": ["power"]},
            r"dataset.yaml: label: give positive \(a binary label: its class\(es\) of interest\) or classes",
            id="positive-and-classes",
        ),
        pytest.param(
            {**LABEL, "classes": ["none", "power"], "protect": ["power"]},
            r"label.classes: a multiclass label needs at ",
            id="two-classes",
        ),
        pytest.param(
            {**LABEL, "protect": []},
            r"label.protect: name the rare class\(es\) the gate protects, e.g. protect: \[wear",
            id="no-protect",
        ),
        pytest.param(
            {**LABEL, "protect": ["powr"]},
            r"label.protect: 'powr' is not among label.classes \['none', 'heat', 'power', 'wear'\]; "
            r"did you mean 'power'\?",
            id="protect-typo",
        ),
        pytest.param(
            {"column": "kind", "positive": ["power"], "protect": ["power"]},
            r"label.protect: protects classes of a",
            id="protect-on-binary",
        ),
        pytest.param(
            {**LABEL, "values": ["none"]},
            r"label.values: a multiclass label lists every value in label.classes",
            id="values-with-classes",
        ),
        pytest.param(
            {**LABEL, "classes": ["none", "heat", "heat", "wear"]},
            r"label.classes: names \['heat'\] more than once",
            id="repeated-class",
        ),
        pytest.param(
            {**LABEL, "classes": ["none", "", "power", "wear"]},
            r"label.classes\[1\]: must not be empty",
            id="empty-class",
        ),
        pytest.param(
            {**LABEL, "clases": LABEL["classes"]},
            r"label.clases: unknown key; did you mean 'classes'\?",
            id="classes-typo",
        ),
    ],
)
def test_multiclass_description_mistakes_are_one_line_naming_the_key(tmp_path, label, message):
    with pytest.raises(DescriptionError, match=message):
        load_description(tables.write_description(tmp_path, {**MACHINES, "label": label}))


def _config(**changes) -> PipelineConfig:
    names = dict(label_key="failure_type", class_names=tables.FAILURE_CLASSES, protected_classes=(2, 3))
    return placeholder_config(**{"schema_path": None, **names, **changes})


def test_rebalance_target_counts_are_keyed_by_the_descriptions_class_indices():
    config = apply_overrides(_config(), ["rebalance.strategy=oversample", "rebalance.target_counts=2:300,3:300"])
    assert config.rebalance.target_counts == (("2", 300), ("3", 300)) and config.multiclass
    with pytest.raises(ConfigError, match=r"target_counts names class 'power'; its keys are class indices: 0=none, "):
        apply_overrides(_config(), ["rebalance.target_counts=power:300"])
    with pytest.raises(ConfigError, match=r"names class '4'; its keys are class indices: 0=none, 1=overstrain, 2="):
        apply_overrides(_config(), ["rebalance.target_counts=4:300"])
    binary = _config(class_names=(), protected_classes=())
    assert apply_overrides(binary, ["rebalance.target_counts=0:50,1:20"]).rebalance.target_counts is not None
    with pytest.raises(ConfigError, match=r"its keys are class indices: 0=the other classes, 1=the class of interest"):
        apply_overrides(binary, ["rebalance.target_counts=2:20"])


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"class_names": ("a", "b")}, r"class_names lists a multiclass label's classes \(at least 3\)"),
        ({"protected_classes": ()}, r"protected_classes names the classes the gate protects"),
        ({"class_names": (), "protected_classes": (1,)}, r"protected_classes names the classes the gate protects"),
        ({"protected_classes": (2, 7)}, r"protected_classes \[7\] are not class indices 0..3"),
    ],
)
def test_inconsistent_classes_in_the_config_are_refused(changes, message):
    with pytest.raises(ConfigError, match=message):
        _config(**changes)


def test_the_label_domain_is_the_class_indices_and_its_stray_string_domain_goes():
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    from pipeline.schema_review import mark_label_categorical

    schema = text_format.Parse(
        'feature { name: "kind" type: INT } feature { name: "line" type: BYTES domain: "line" } '
        'string_domain { name: "kind" value: "0" value: "3" } string_domain { name: "line" value: "L" }',
        schema_pb2.Schema(),
    )
    mark_label_categorical(schema, "kind", 4)
    (kind,) = [feature for feature in schema.feature if feature.name == "kind"]
    assert kind.int_domain.is_categorical and (kind.int_domain.min, kind.int_domain.max) == (0, 3)
    assert [domain.name for domain in schema.string_domain] == ["line"]


def test_rebalance_refuses_an_absurd_growth_factor_for_one_class():
    """Each class gets its own target; one that would grow a class past max_oversampling_factor is one line."""
    from components.rebalance.errors import RebalanceInputError
    from components.rebalance.plan import plan_split
    from components.rebalance.spec import RebalanceParameters

    counts = {"0": 500, "1": 80, "2": 30, "3": 20}
    fine = plan_split(
        "train", counts, RebalanceParameters(strategy="oversample", target_counts={"2": 90, "3": 60}), "k"
    )
    assert fine.counts_after == {"0": 500, "1": 80, "2": 90, "3": 60}
    absurd = RebalanceParameters(strategy="oversample", target_counts={"2": 90, "3": 5000})
    with pytest.raises(
        RebalanceInputError, match=r"class '3' would grow from 20 to 5000 rows, a factor of 250.0 > max_"
    ):
        plan_split("train", counts, absurd, "k")
