"""`section.field=value` overrides of `PipelineConfig`, and the `--set` and `--beam-arg` flags of both runners."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any, Sequence

from pipeline.config import ConfigError, PipelineConfig


def _coerce(raw: str, annotation: Any, where: str) -> Any:
    """Parses `raw` as the field's declared type: numbers, booleans, strings and tuples of them."""
    text = str(annotation)
    try:
        if raw.lower() == "none" and "Optional" in text:
            return None
        if "Tuple" in text or "tuple" in text:
            items = [item.strip() for item in raw.split(",") if item.strip()]
            if "int" in text and "str" not in text:
                return tuple(int(item) for item in items)
            return tuple(items)
        if "bool" in text:
            if raw.lower() not in ("true", "false"):
                raise ValueError("expected true or false")
            return raw.lower() == "true"
        if "float" in text:
            return float(raw)
        if "int" in text:
            return int(raw)
        return raw
    except ValueError as error:
        raise ConfigError(f"--set {where}={raw!r}: {error}") from None


def apply_overrides(config: PipelineConfig, assignments: Sequence[str]) -> PipelineConfig:
    """A copy of `config` with each `name=value` or `section.name=value` applied (validated again)."""
    for assignment in assignments:
        if "=" not in assignment:
            raise ConfigError(f"--set expects name=value, got {assignment!r}")
        path, raw = assignment.split("=", 1)
        parts = path.strip().split(".")
        if len(parts) == 1:
            target, section = config, None
        elif len(parts) == 2:
            section = parts[0]
            if section not in {f.name for f in dataclasses.fields(config)} or not dataclasses.is_dataclass(
                getattr(config, section)
            ):
                sections = [
                    f.name for f in dataclasses.fields(config) if dataclasses.is_dataclass(getattr(config, f.name))
                ]
                raise ConfigError(f"--set {path}: unknown section {section!r}; sections: {', '.join(sections)}")
            target = getattr(config, section)
        else:
            raise ConfigError(f"--set {path}: use name or section.name")
        name = parts[-1]
        hints = typing.get_type_hints(type(target))
        if name not in hints:
            raise ConfigError(f"--set {path}: unknown setting {name!r}; settings: {', '.join(sorted(hints))}")
        value = _coerce(raw.strip(), hints[name], path)
        updated = dataclasses.replace(target, **{name: value})
        config = dataclasses.replace(config, **{section: updated}) if section else updated
    return config


def add_config_flags(parser: argparse.ArgumentParser, *, beam_arg_help: str, set_examples: str) -> None:
    """Adds the repeatable `--beam-arg` (into `args.beam_args`) and `--set` (into `args.overrides`) flags.

    Declared once so that both runners accept the same command line; each runner words the
    examples and Beam defaults that fit where it runs.
    """
    parser.add_argument("--beam-arg", action="append", dest="beam_args", metavar="ARG", help=beam_arg_help)
    parser.add_argument(
        "--set",
        action="append",
        dest="overrides",
        default=[],
        metavar="SECTION.NAME=VALUE",
        help=f"override a setting of pipeline/config.py, repeatable, e.g. {set_examples}",
    )
