"""Tiny tables of the four shapes a user brings, written by the tests (a few hundred rows each).

- `text_labels`: a header, numeric columns and a text label (`bad` among `good`).
- `headerless`: no header, `?` for missing values, names given by the description.
- `mixed`: text and integer-coded categorical columns, a row id to drop, missing values.
- the credit-card layout ships as tests/data/creditcard_small.csv.
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


def creditcard(folder: pathlib.Path) -> pathlib.Path:
    """The shipped credit-card description, pointed at the small credit-card sample."""
    tree = yaml.safe_load((REPO / "schema" / "creditcard" / "dataset.yaml").read_text())
    tree.pop("fetch")
    tree["data"] = str(CREDITCARD_SMALL)
    return write_description(folder, tree)


SHAPES = {"text_labels": text_labels, "headerless": headerless, "mixed": mixed, "creditcard": creditcard}
