"""The label section of a data-set description: a binary label, or a multiclass one with protected classes.

Binary (the default): `positive` names the value(s) of the class of interest, which become class 1;
every other value is class 0. Multiclass: `classes` lists every value in class-index order (index =
position, so the class index data prep writes is 0..k-1) and `protect` names the rare classes the
gate judges one by one. The two forms exclude each other: a label is one or the other, and a
description that mixes them would leave the class index ambiguous.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Tuple

from pipeline.description_reader import DescriptionReader, did_you_mean

LABEL_KEYS = ("column", "positive", "values", "classes", "protect")
MIN_CLASSES = 3


@dataclasses.dataclass(frozen=True)
class Label:
    column: str
    positive: Tuple[str, ...] = ()
    values: Tuple[str, ...] = ()
    # Multiclass only. Left out of repr: a binary description then prints (and fingerprints, see
    # pipeline.prepare.fingerprint) exactly as before these fields existed.
    classes: Tuple[str, ...] = dataclasses.field(default=(), repr=False)
    protect: Tuple[str, ...] = dataclasses.field(default=(), repr=False)

    @property
    def multiclass(self) -> bool:
        return bool(self.classes)

    @property
    def num_classes(self) -> int:
        return len(self.classes) if self.classes else 2

    @property
    def class_names(self) -> Tuple[str, ...]:
        """Every class name in index order; empty for a binary label (components treat that as binary)."""
        return self.classes

    @property
    def protected_classes(self) -> Tuple[int, ...]:
        """The indices of the protected classes, in index order; empty for a binary label."""
        return tuple(index for index, name in enumerate(self.classes) if name in self.protect)

    def class_index(self, value: str) -> int:
        """The class index data prep writes for one (stripped) label value that the scan accepted."""
        if self.classes:
            return self.classes.index(value)
        return 1 if value in self.positive else 0

    def describe(self, index: int) -> str:
        """A class index in words, for messages: `3 ('graphic')`, or for binary `1 (the class of interest)`."""
        if self.classes:
            return f"{index} ({self.classes[index]!r})"
        return f"{index} ({'the class of interest' if index == 1 else 'the other classes'})"


def parse_label(reader: DescriptionReader, raw: Any) -> Label:
    """The label section, checked; each mistake is one line naming the key (and the value)."""
    entry = reader.mapping(raw, "label", "label")
    label = Label(
        column=reader.text(entry.get("column"), "label.column", required=True) or "",
        positive=reader.texts(entry.get("positive"), "label.positive"),
        values=reader.texts(entry.get("values"), "label.values"),
        classes=reader.texts(entry.get("classes"), "label.classes"),
        protect=reader.texts(entry.get("protect"), "label.protect"),
    )
    if "classes" in entry:
        _check_multiclass(reader, entry, label)
        return label
    if label.protect:
        raise reader.fail(
            "label.protect",
            "protects classes of a multiclass label: list every class in label.classes (a binary label names its "
            "class of interest in label.positive)",
        )
    if not label.positive:
        raise reader.fail(
            "label.positive",
            "name the class(es) of interest, e.g. positive: [yes] (or, for a multiclass label, list every class "
            "in label.classes)",
        )
    unknown_positive = [value for value in label.positive if label.values and value not in label.values]
    if unknown_positive:
        raise reader.fail("label.positive", f"{unknown_positive} are not among label.values {list(label.values)}")
    return label


def _check_multiclass(reader: DescriptionReader, entry: Any, label: Label) -> None:
    if "positive" in entry:
        raise reader.fail(
            "label",
            "give positive (a binary label: its class(es) of interest) or classes (a multiclass label: every "
            "class), not both",
        )
    if "values" in entry:
        raise reader.fail("label.values", "a multiclass label lists every value in label.classes; drop label.values")
    empty = [index for index, name in enumerate(label.classes) if not name.strip()]
    if empty:
        raise reader.fail(f"label.classes[{empty[0]}]", "must not be empty (a missing label is not a class)")
    if len(label.classes) < MIN_CLASSES:
        raise reader.fail(
            "label.classes",
            f"a multiclass label needs at least {MIN_CLASSES} classes, got {list(label.classes)}; for two classes "
            "use positive: [<the class of interest>]",
        )
    if not label.protect:
        raise reader.fail(
            "label.protect",
            f"name the rare class(es) the gate protects, e.g. protect: [{label.classes[-1]}] (one or more of "
            "label.classes)",
        )
    for name in label.protect:
        if name not in label.classes:
            hint = did_you_mean(name, label.classes)
            raise reader.fail("label.protect", f"{name!r} is not among label.classes {list(label.classes)}{hint}")
