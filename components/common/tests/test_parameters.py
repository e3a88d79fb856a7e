"""ComponentParameters: field types drive the spec, the execution-property and JSON round trips, and --set parsing."""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import pytest

from components.common.parameters import ComponentParameters, ParameterError, require


@dataclasses.dataclass(frozen=True)
class _Example(ComponentParameters):
    SECTION = "example"

    name: str = "a"
    count: int = 3
    share: float = 0.5
    enabled: bool = True
    limit: Optional[float] = None
    keys: Tuple[str, ...] = ("x", "y")
    sizes: Tuple[int, ...] = (128, 64)
    counts: Optional[Tuple[Tuple[str, int], ...]] = None

    def __post_init__(self) -> None:
        require(self.count >= 0, f"{self.setting('count')} must be >= 0, got {self.count!r}")


def test_execution_parameters_follow_field_types():
    parameters = _Example.execution_parameters()
    assert parameters["name"].type is str
    assert parameters["count"].type is int
    assert parameters["share"].type is float
    assert parameters["enabled"].type is int
    assert parameters["keys"].type is str and parameters["counts"].type is str
    assert parameters["limit"].optional and parameters["counts"].optional and not parameters["count"].optional


def test_exec_properties_round_trip():
    params = _Example(enabled=False, limit=2.5, counts=(("0", 10), ("1", 5)), sizes=(7,))
    properties = params.to_exec_properties()
    assert properties["enabled"] == 0
    assert properties["counts"] == '[["0", 10], ["1", 5]]'
    assert _Example.from_exec_properties(properties) == params
    assert "limit" not in _Example().to_exec_properties()


def test_json_round_trip_and_unknown_keys():
    params = _Example(counts=(("a", 1),))
    assert _Example.from_json_dict(params.to_json_dict()) == params
    with pytest.raises(ParameterError, match=r"unknown example settings \['cuont'\]"):
        _Example.from_json_dict({"cuont": 1})


@pytest.mark.parametrize(
    "field, text, expected",
    [
        ("count", "7", 7),
        ("share", "0.25", 0.25),
        ("enabled", "false", False),
        ("enabled", "YES", True),
        ("limit", "none", None),
        ("keys", "a, b ,c", ("a", "b", "c")),
        ("keys", "", ()),
        ("sizes", "32,16", (32, 16)),
        ("counts", "0:5000, 1:500", (("0", 5000), ("1", 500))),
        ("counts", "bad:1", (("bad", 1),)),
    ],
)
def test_parse_field(field, text, expected):
    assert _Example.parse_field(field, text) == expected


@pytest.mark.parametrize(
    "field, text, message",
    [
        ("count", "x", r"example.count='x'.*expected an int"),
        ("enabled", "maybe", r"example.enabled='maybe'.*true or false"),
        ("counts", "05,19", r"example.counts='05,19': '05' is not a NAME:VALUE pair.*NAME:INT pairs"),
        ("counts", "a:b", r"example.counts='a:b'.*NAME:INT"),
        ("nope", "1", r"unknown setting 'example.nope'"),
    ],
)
def test_parse_field_errors_name_the_setting_and_syntax(field, text, message):
    with pytest.raises(ParameterError, match=message):
        _Example.parse_field(field, text)


def test_checks_name_the_setting():
    with pytest.raises(ParameterError, match=r"^example.count must be >= 0, got -1$"):
        _Example(count=-1)
