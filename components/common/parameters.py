"""One frozen parameter dataclass per component: its checks, and its trips through TFX and the command line.

Every custom component (and the Trainer's `run_fn`) declares its settings once, as a frozen
dataclass that subclasses `ComponentParameters`. The dataclass is the single place for each
default and each check. From its field types alone this module derives:

- the ComponentSpec's `PARAMETERS` (`execution_parameters`), so the IR shows one execution
  property per setting;
- the encoding into and out of execution properties and JSON (`to_exec_properties`,
  `from_exec_properties`, `to_json_dict`, `from_json_dict`): TFX's IR keeps only int, float
  and str, so tuples, pairs and booleans travel as JSON text or 0/1;
- the parsing of one value typed on the command line (`parse_field`), so `--set` needs no
  table of its own and every setting, tuples and pairs included, can be set.

Supported field types: str, int, float, bool, Optional[...] of those, Tuple[X, ...] of
scalars, and Tuple[Tuple[str, X], ...] (named pairs such as per-class counts).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import typing
from typing import TYPE_CHECKING, Any, ClassVar, Dict, Mapping, Tuple, Type, TypeVar

if TYPE_CHECKING:
    from tfx.types.component_spec import ExecutionParameter

ParametersT = TypeVar("ParametersT", bound="ComponentParameters")

PAIR_SEPARATOR = ":"
ITEM_SEPARATOR = ","
_TRUE_WORDS = ("true", "yes", "1")
_FALSE_WORDS = ("false", "no", "0")


class ParameterError(ValueError):
    """A parameter is out of range, of the wrong type or inconsistent; the message names it."""


def require(condition: bool, message: str) -> None:
    if not condition:
        raise ParameterError(message)


def require_fraction(name: str, value: float) -> None:
    require(0.0 <= value <= 1.0, f"{name} must be in [0, 1], got {value!r}")


def require_choice(name: str, value: str, choices: Tuple[str, ...]) -> None:
    require(value in choices, f"{name} must be one of {', '.join(choices)}; got {value!r}")


@dataclasses.dataclass(frozen=True)
class _FieldType:
    """A field's declared type, reduced to what encoding and parsing need."""

    scalar: type  # str, int, float or bool: the type of the value, of each item, or of each pair's value
    optional: bool = False
    kind: str = "scalar"  # "scalar", "tuple" (Tuple[X, ...]) or "pairs" (Tuple[Tuple[str, X], ...])


def _scalar(annotation: Any, where: str) -> type:
    if annotation in (str, int, float, bool):
        return annotation
    raise TypeError(f"{where}: unsupported parameter type {annotation!r}")


def _field_type(annotation: Any, where: str) -> _FieldType:
    optional = False
    if typing.get_origin(annotation) is typing.Union:
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) != 1:
            raise TypeError(f"{where}: unsupported parameter type {annotation!r}")
        optional, annotation = True, members[0]
    if typing.get_origin(annotation) is tuple:
        args = typing.get_args(annotation)
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"{where}: tuples must be Tuple[X, ...], got {annotation!r}")
        item = args[0]
        if typing.get_origin(item) is tuple:
            pair = typing.get_args(item)
            if len(pair) != 2 or pair[0] is not str:
                raise TypeError(f"{where}: pairs must be Tuple[Tuple[str, X], ...], got {annotation!r}")
            return _FieldType(_scalar(pair[1], where), optional, "pairs")
        return _FieldType(_scalar(item, where), optional, "tuple")
    return _FieldType(_scalar(annotation, where), optional)


def _parse_scalar(text: str, scalar: type) -> Any:
    if scalar is bool:
        word = text.lower()
        if word not in _TRUE_WORDS + _FALSE_WORDS:
            raise ValueError("expected true or false")
        return word in _TRUE_WORDS
    if scalar is int:
        return int(text)
    if scalar is float:
        return float(text)
    return text


def _syntax(field_type: _FieldType) -> str:
    name = field_type.scalar.__name__
    if field_type.kind == "pairs":
        example = f"0{PAIR_SEPARATOR}5000,1{PAIR_SEPARATOR}500"
        text = f"NAME{PAIR_SEPARATOR}{name.upper()} pairs separated by commas, e.g. {example}"
    elif field_type.kind == "tuple":
        text = f"{name} values separated by commas, e.g. a,b (empty for none)"
    elif field_type.scalar is bool:
        text = "true or false"
    else:
        text = f"an {name}" if name[0] in "aeiou" else f"a {name}"
    return f"{text}, or none" if field_type.optional else text


def _parse(field_type: _FieldType, text: str, setting: str) -> Any:
    raw = text.strip()
    try:
        if field_type.optional and raw.lower() == "none":
            return None
        if field_type.kind == "scalar":
            return _parse_scalar(raw, field_type.scalar)
        items = [item.strip() for item in raw.split(ITEM_SEPARATOR) if item.strip()]
        if field_type.kind == "tuple":
            return tuple(_parse_scalar(item, field_type.scalar) for item in items)
        pairs = []
        for item in items:
            name, separator, value = item.partition(PAIR_SEPARATOR)
            if not separator or not name.strip():
                raise ValueError(f"{item!r} is not a NAME{PAIR_SEPARATOR}VALUE pair")
            pairs.append((name.strip(), _parse_scalar(value.strip(), field_type.scalar)))
        return tuple(pairs)
    except ValueError as error:
        raise ParameterError(f"{setting}={text!r}: {error}; expected {_syntax(field_type)}") from None


def parse_setting(annotation: Any, text: str, setting: str) -> Any:
    """Parses `text` as a value of the type `annotation` (a field's type hint); errors name `setting`."""
    return _parse(_field_type(annotation, setting), text, setting)


def setting_syntax(annotation: Any) -> str:
    """How a value of type `annotation` is written on the command line."""
    return _syntax(_field_type(annotation, "setting"))


@dataclasses.dataclass(frozen=True)
class ComponentParameters:
    """Base of every component's frozen parameter dataclass.

    Subclasses set `SECTION` (the name of their group of settings, e.g. "rebalance") so that
    every check names a setting as the user types it: `rebalance.strategy must be ...`.
    """

    SECTION: ClassVar[str] = ""

    @classmethod
    def setting(cls, field_name: str) -> str:
        """The setting's full name, as `--set` and error messages spell it."""
        return f"{cls.SECTION}.{field_name}" if cls.SECTION else field_name

    @classmethod
    @functools.cache
    def field_types(cls) -> Dict[str, _FieldType]:
        hints = typing.get_type_hints(cls)
        return {
            field.name: _field_type(hints[field.name], cls.setting(field.name)) for field in dataclasses.fields(cls)
        }

    @classmethod
    def execution_parameters(cls) -> Dict[str, ExecutionParameter]:
        """The ComponentSpec's PARAMETERS entries: one per field (tuples, pairs and booleans as str/int)."""
        # Imported here: the dataclasses (and the settings checks of the runners) load no TensorFlow.
        from tfx.types.component_spec import ExecutionParameter

        parameters = {}
        for name, field_type in cls.field_types().items():
            if field_type.kind != "scalar":
                wire_type: type = str
            elif field_type.scalar is bool:
                wire_type = int
            else:
                wire_type = field_type.scalar
            parameters[name] = ExecutionParameter(type=wire_type, optional=field_type.optional)
        return parameters

    def to_json_dict(self) -> Dict[str, Any]:
        """JSON-able values: tuples as lists, pairs as lists of [name, value]."""
        values: Dict[str, Any] = {}
        for name, field_type in self.field_types().items():
            value = getattr(self, name)
            if value is not None and field_type.kind != "scalar":
                value = [list(item) if field_type.kind == "pairs" else item for item in value]
            values[name] = value
        return values

    @classmethod
    def from_json_dict(cls: Type[ParametersT], values: Mapping[str, Any]) -> ParametersT:
        """The inverse of `to_json_dict`; unknown keys are an error naming them (a typo, or an old run)."""
        field_types = cls.field_types()
        unknown = sorted(set(values) - set(field_types))
        require(not unknown, f"unknown {cls.SECTION or 'parameter'} settings {unknown}; known: {sorted(field_types)}")
        converted = {}
        for name, value in values.items():
            kind = field_types[name].kind
            if value is not None and kind == "pairs":
                value = tuple((str(pair[0]), pair[1]) for pair in value)
            elif value is not None and kind == "tuple":
                value = tuple(value)
            converted[name] = value
        return cls(**converted)

    def to_exec_properties(self) -> Dict[str, Any]:
        """Execution properties: scalars as they are, booleans as 0/1, tuples as JSON text; None left out."""
        properties: Dict[str, Any] = {}
        for name, value in self.to_json_dict().items():
            if value is None:
                continue
            if isinstance(value, list):
                value = json.dumps(value)
            elif isinstance(value, bool):
                value = int(value)
            properties[name] = value
        return properties

    @classmethod
    def from_exec_properties(cls: Type[ParametersT], properties: Mapping[str, Any]) -> ParametersT:
        """The inverse of `to_exec_properties`; keys that are not fields (a component's own inputs) are ignored."""
        values: Dict[str, Any] = {}
        for name, field_type in cls.field_types().items():
            value = properties.get(name)
            if value is None:
                values[name] = None
            elif field_type.kind != "scalar":
                values[name] = json.loads(value) if isinstance(value, str) else value
            elif field_type.scalar is bool:
                values[name] = bool(value)
            else:
                values[name] = field_type.scalar(value)
        return cls.from_json_dict(values)

    @classmethod
    def parse_field(cls, field_name: str, text: str) -> Any:
        """Parses one value as typed on the command line, by the field's declared type.

        Raises ParameterError naming the setting and the syntax it expects.
        """
        field_types = cls.field_types()
        require(
            field_name in field_types,
            f"unknown setting {cls.setting(field_name)!r}; settings of {cls.SECTION or 'this section'}: "
            f"{', '.join(sorted(field_types))}",
        )
        return _parse(field_types[field_name], text, cls.setting(field_name))


def check_component_arguments(
    component: str,
    parameters: ComponentParameters,
    parameters_type: Type[ComponentParameters],
    label_key: str,
    error: Type[Exception],
) -> None:
    """The checks every component makes when it is built: its parameter dataclass and the label's name.

    Raises `error` (the component's own parameter error) with one line naming the component.
    """
    if not isinstance(parameters, parameters_type):
        raise error(f"{component}: parameters must be {parameters_type.__name__}, got {parameters!r}")
    if not isinstance(label_key, str) or not label_key:
        raise error(f"{component}: label_key must be a non-empty string, got {label_key!r}")
