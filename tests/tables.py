"""Tiny tables of the four shapes a user brings, written by the tests (a few hundred rows each).

- `text_labels`: a header, numeric columns and a text label (`bad` among `good`).
- `headerless`: no header, `?` for missing values, names given by the description.
- `mixed`: text and integer-coded categorical columns, a row id to drop, missing values.
- the credit-card layout ships as tests/data/creditcard_small.csv.
- `failure_types` (multiclass, k = 4): text class names, two rare classes (~4.5% and ~3.5%) that
  the description protects, a text categorical column and an id to drop. Not in `SHAPES`, whose
  tests train the binary model; `MULTICLASS_SHAPES` holds it.
Rows are drawn from a seeded generator, with the class of interest depending on the features, so a
model can learn it.
"""

from __future__ import annotations

import pathlib
import random
from typing import List, Sequence

import yaml

REPO = pathlib.Path(__file__).resolve().parents[1]
CREDITCARD_SMALL = REPO / "tests" / "data" / "creditcard_small.csv"


def _write(path: pathlib.Path, rows: Sequence[Sequence[object]], delimiter: str = ",") -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(delimiter.join(str(value) for value in row) for row in rows) + "\n")
    return path


def write_description(folder: pathlib.Path, tree: dict) -> pathlib.Path:
    path = folder / "dataset.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(tree, sort_keys=False))
    return path


def text_labels(folder: pathlib.Path, rows: int = 400, seed: int = 1) -> pathlib.Path:
    """loans.csv (income, debt, status good/bad) and its description; ~10% bad."""
    rng = random.Random(seed)
    table: List[List[object]] = [["income", "debt", "status"]]
    for _ in range(rows):
        income, debt = round(rng.gauss(50, 15), 2), round(rng.gauss(20, 8), 2)
        bad = debt - 0.3 * income + rng.gauss(0, 4) > 18
        table.append([income, debt, "bad" if bad else "good"])
    _write(folder / "loans.csv", table)
    return write_description(
        folder,
        {
            "data": "loans.csv",
            "label": {"column": "status", "positive": ["bad"], "values": ["good", "bad"]},
            "slices": [{"name": "income_band", "column": "income", "edges": [50], "labels": ["low", "high"]}],
        },
    )


def headerless(folder: pathlib.Path, rows: int = 400, seed: int = 2) -> pathlib.Path:
    """sensors.data without a header, `?` for missing, label `failure` among `ok`; ~8% failure."""
    rng = random.Random(seed)
    table: List[List[object]] = []
    for _ in range(rows):
        temperature, vibration = round(rng.gauss(70, 10), 1), round(rng.gauss(1.0, 0.4), 3)
        failure = temperature + 20 * vibration + rng.gauss(0, 5) > 105
        table.append(
            [
                "?" if rng.random() < 0.05 else temperature,
                "?" if rng.random() < 0.05 else vibration,
                rng.choice(["A", "B", "C"]),
                "failure" if failure else "ok",
            ]
        )
    _write(folder / "sensors.data", table)
    return write_description(
        folder,
        {
            "data": "sensors.data",
            "read": {"header": False, "columns": ["temperature", "vibration", "line", "state"], "missing": ["?"]},
            "label": {"column": "state", "positive": ["failure"]},
            "slices": [{"column": "line"}],
        },
    )


def mixed(folder: pathlib.Path, rows: int = 600, seed: int = 3) -> pathlib.Path:
    """patients.csv: an id to drop, a text and an integer-coded categorical, numbers, NA; ~10% positive."""
    rng = random.Random(seed)
    table: List[List[object]] = [["patient_id", "age", "region", "clinic", "marker", "diagnosis"]]
    for number in range(rows):
        age, region, clinic = rng.randint(20, 90), rng.choice(["north", "south", "east"]), rng.choice([101, 102, 205])
        marker = round(rng.gauss(5, 2), 3)
        score = marker + 0.05 * age + (2.0 if region == "south" else 0.0) + (1.5 if clinic == 205 else 0.0)
        positive = score + rng.gauss(0, 1) > 12
        table.append(
            [
                f"P{number:05d}",
                age,
                region,
                clinic,
                "NA" if rng.random() < 0.05 else marker,
                "yes" if positive else "no",
            ]
        )
    _write(folder / "patients.csv", table)
    return write_description(
        folder,
        {
            "data": "patients.csv",
            "read": {"missing": ["", "NA"]},
            "label": {"column": "diagnosis", "positive": ["yes"], "values": ["no", "yes"]},
            "columns": {"drop": ["patient_id"], "categorical": ["clinic"]},
            "slices": [
                {"column": "region"},
                {"name": "age_band", "column": "age", "edges": [50], "labels": ["young", "old"]},
            ],
        },
    )


FAILURE_CLASSES = ("none", "overstrain", "power", "tool_wear")
FAILURE_SHARES = (0.80, 0.12, 0.045, 0.035)
PROTECTED_FAILURES = ("power", "tool_wear")


def failure_types(folder: pathlib.Path, rows: int = 800, seed: int = 4) -> pathlib.Path:
    """machines.csv: an id to drop, a text line, three sensors with some NA, failure_type among four classes.

    Each row's class is drawn first, then its sensors from that class's own mix (overstrain: high
    torque; power: high speed and low torque; tool wear: long tool use), so every class can be learnt
    and the rare ones are rare: about 80% none, 12% overstrain, 4.5% power, 3.5% tool wear.
    """
    rng = random.Random(seed)
    table: List[List[object]] = [["machine_id", "line", "speed", "torque", "tool_minutes", "failure_type"]]
    for number in range(rows):
        kind = rng.choices(FAILURE_CLASSES, weights=FAILURE_SHARES)[0]
        speed = rng.gauss(1500 + (500 if kind == "power" else 0), 120)
        torque = rng.gauss(40 + (25 if kind == "overstrain" else 0) - (15 if kind == "power" else 0), 6)
        minutes = rng.uniform(0, 180) + (90 if kind == "tool_wear" else 0)
        line = rng.choice(["L", "M", "H"]) if kind != "overstrain" else rng.choice(["L", "L", "M"])
        table.append(
            [
                f"M{number:05d}",
                line,
                round(speed, 1),
                "NA" if rng.random() < 0.04 else round(torque, 2),
                round(minutes, 1),
                kind,
            ]
        )
    _write(folder / "machines.csv", table)
    return write_description(
        folder,
        {
            "data": "machines.csv",
            "read": {"missing": ["", "NA"]},
            "label": {
                "column": "failure_type",
                "classes": list(FAILURE_CLASSES),
                "protect": list(PROTECTED_FAILURES),
            },
            "columns": {"drop": ["machine_id"]},
            "slices": [{"column": "line"}],
        },
    )


def creditcard(folder: pathlib.Path) -> pathlib.Path:
    """The shipped credit-card description, pointed at the small credit-card sample."""
    tree = yaml.safe_load((REPO / "schema" / "creditcard" / "dataset.yaml").read_text())
    tree.pop("fetch")
    tree["data"] = str(CREDITCARD_SMALL)
    return write_description(folder, tree)


SHAPES = {"text_labels": text_labels, "headerless": headerless, "mixed": mixed, "creditcard": creditcard}
MULTICLASS_SHAPES = {"failure_types": failure_types}
