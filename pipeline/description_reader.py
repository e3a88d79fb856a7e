"""Reading a data-set description's YAML tree, with one line per mistake naming the file and the key.

`pipeline.dataset` (the whole description) and `pipeline.label` (its label section) both read
through `DescriptionReader`, so every mistake reads the same way: `dataset.yaml: label.protect:
'powr' is not among label.classes [...]; did you mean 'power'?`.
"""

from __future__ import annotations

import difflib
import math
import pathlib
from typing import Any, Mapping, Optional, Sequence, Tuple

from pipeline.errors import UserInputError


class DescriptionError(UserInputError):
    """A data-set description is unreadable, has an unknown key, or a value out of range."""


def did_you_mean(value: str, choices: Sequence[str], fallback: str = "") -> str:
    """`; did you mean 'x'?` for the closest of `choices`, else `fallback`."""
    close = difflib.get_close_matches(str(value), list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else fallback


class DescriptionReader:
    """Reads one description file's YAML tree, naming the file and the key in every error.

    `sections` maps a section's name ("" for the top level) to the keys it may hold.
    """

    def __init__(self, path: pathlib.Path, sections: Mapping[str, Tuple[str, ...]]):
        self.path = path
        self.sections = sections

    def fail(self, key: str, message: str) -> DescriptionError:
        return DescriptionError(f"{self.path}: {key}: {message}")

    def mapping(self, value: Any, section: str, key: str) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(key or "top level", f"expected a mapping of keys, got {value!r}")
        allowed = self.sections[section]
        for name in value:
            if name not in allowed:
                hint = did_you_mean(str(name), allowed, f"; known keys: {', '.join(allowed)}")
                raise self.fail(f"{key}.{name}" if key else str(name), f"unknown key{hint}")
        return value

    def text(self, value: Any, key: str, required: bool = False) -> Optional[str]:
        if value is None:
            if required:
                raise self.fail(key, "is required")
            return None
        if isinstance(value, bool) or isinstance(value, (list, dict)):
            raise self.fail(key, f"expected a text value, got {value!r}")
        text = str(value)
        if required and not text.strip():
            raise self.fail(key, "must not be empty")
        return text

    def texts(self, value: Any, key: str) -> Tuple[str, ...]:
        if value is None:
            return ()
        items = value if isinstance(value, list) else [value]
        result = tuple(self.text(item, f"{key}[{i}]") or "" for i, item in enumerate(items))
        duplicates = sorted({item for item in result if result.count(item) > 1})
        if duplicates:
            raise self.fail(key, f"names {duplicates} more than once")
        return result

    def number(self, value: Any, key: str) -> Optional[float]:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(key, f"expected a finite number, got {value!r}")
        return float(value)

    def numbers(self, value: Any, key: str) -> Tuple[float, ...]:
        items = value if isinstance(value, list) else ([] if value is None else [value])
        return tuple(self.number(item, f"{key}[{i}]") or 0.0 for i, item in enumerate(items))

    def flag(self, value: Any, key: str, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {value!r}")
        return value
