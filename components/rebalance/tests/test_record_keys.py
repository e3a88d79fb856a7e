"""Per-record keys: the seeded hash, and the class read from the wire format (or why there is none)."""

from __future__ import annotations

import random

from components.rebalance import record_keys
from components.rebalance.problems import LABEL_VALUES, MISSING_LABEL, UNPARSEABLE, LabelProblem
from components.rebalance.tests import fixtures as fx


def test_record_hash_is_a_function_of_seed_record_and_salt():
    key = record_keys.seed_key(42)
    assert record_keys.record_hash(key, b"abc") == record_keys.record_hash(record_keys.seed_key(42), b"abc")
    assert record_keys.record_hash(key, b"abc") != record_keys.record_hash(record_keys.seed_key(43), b"abc")
    assert record_keys.record_hash(key, b"abc") != record_keys.record_hash(key, b"abc", b"\x01")
    assert 0 <= record_keys.record_hash(key, b"abc") < record_keys.HASH_RANGE


def test_string_labels_are_classes_as_they_are():
    records = [fx.make_example({"Class": "fraud", "f0": 1.0}), fx.make_example({"Class": "ok", "f0": 2.0})]
    assert [record_keys.class_key(r, "Class") for r in records] == ["fraud", "ok"]
    problem = record_keys.class_key(b"\xff\xff not a proto", "Class")
    assert isinstance(problem, LabelProblem) and problem.kind == UNPARSEABLE


def test_records_without_one_label_value_are_problems_not_classes():
    missing = record_keys.class_key(fx.make_example({"f0": 1.0, "row_id": "x"}), "Class")
    assert missing == LabelProblem(MISSING_LABEL, "['f0', 'row_id']")
    two_values = record_keys.class_key(fx.make_example({"Class": [1, 2], "f0": 1.0}), "Class")
    assert two_values == LabelProblem(LABEL_VALUES, "2")


def test_fast_label_reader_agrees_with_a_full_parse_on_varied_records():
    rng = random.Random(0)
    reader = record_keys.ClassKeyReader("Class")
    for _ in range(2000):
        values = {f"k{j}" * rng.randint(1, 40): rng.random() for j in range(rng.randint(0, 12))}
        choice = rng.randint(0, 5)
        if choice == 0:
            values["Class"] = rng.randint(-5, 300)
        elif choice == 1:
            values["Class"] = "lab" * rng.randint(1, 60)
        elif choice == 2:
            values["Class"] = [1, 2]
        elif choice == 3:
            values["Class"] = 3.0
        elif choice == 4:
            values["decoy"] = "\n\x05Class\x12\x03\x1a\x01\x08"  # the label entry's bytes inside a value
        record = fx.make_example(values)
        full = record_keys.class_name_of(record_keys.parse_example(record), "Class")
        assert record_keys.class_key(record, "Class") == full, values
        assert reader(record) == full, values
