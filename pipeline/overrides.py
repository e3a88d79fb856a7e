"""`section.field=value` overrides of `PipelineConfig`: a description's `settings`, then the runners' `--set`.

Also the `--set` and `--beam-arg` flags both runners declare.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import TYPE_CHECKING, Any, Dict, Optional, Sequence, Tuple

from components.common.parameters import ComponentParameters, parse_setting
from pipeline.description_reader import DescriptionError
from pipeline.errors import ConfigError

if TYPE_CHECKING:  # the flags and checks load no TensorFlow; the config's component specs do
    from pipeline.config import PipelineConfig
    from pipeline.dataset import DatasetDescription


def configure(config: PipelineConfig, description: DatasetDescription, assignments: Sequence[str]) -> PipelineConfig:
    """`config` with the description's own settings, then the command line's `--set`s, which win.

    Every runner builds its config this way, so a data set's settings apply wherever it runs.
    """
    return apply_overrides(apply_description_settings(config, description), assignments)


def apply_description_settings(config: PipelineConfig, description: DatasetDescription) -> PipelineConfig:
    """A copy of `config` with the description's `settings:` applied; a bad one names the file and key.

    The settings are applied together, like `apply_overrides`; a failure (a bad value, or a check
    between settings) names the first key at which the settings read so far fail.
    """
    sections = [
        field.name
        for field in dataclasses.fields(config)
        if isinstance(getattr(config, field.name), ComponentParameters)
    ]
    for assignment in description.settings:
        path = assignment.split("=", 1)[0]
        section = path.split(".", 1)[0]
        if section not in sections:
            raise DescriptionError(
                f"{description.path}: settings.{section}: unknown section; sections: {', '.join(sections)}"
            )
    try:
        return apply_overrides(config, description.settings)
    except ConfigError as whole:
        failure, count = whole, len(description.settings)
    # Name the first key at which the settings read so far fail the checks, with that check's message.
    for prefix in range(1, count):
        try:
            apply_overrides(config, description.settings[:prefix])
        except ConfigError as error:
            failure, count = error, prefix
            break
    key = description.settings[count - 1].split("=", 1)[0]
    raise DescriptionError(f"{description.path}: settings.{key}: {failure}") from None


def apply_overrides(config: PipelineConfig, assignments: Sequence[str]) -> PipelineConfig:
    """A copy of `config` with each `name=value` or `section.name=value` applied (validated again).

    Every value is parsed on its own; each changed section is then rebuilt once with all of its
    changes, so settings that hold only together (trainer.loss=auc with trainer.min_batch_positives=2)
    may come in any order. A later assignment of the same setting wins.
    """
    top: Dict[str, Any] = {}
    sections: Dict[str, Dict[str, Any]] = {}
    for assignment in assignments:
        section, name, value = _parse_assignment(config, assignment)
        if section is None:
            top[name] = value
        else:
            sections.setdefault(section, {})[name] = value
    changes: Dict[str, Any] = dict(top)
    for section, fields in sections.items():
        changes[section] = dataclasses.replace(getattr(config, section), **fields)
    return dataclasses.replace(config, **changes) if changes else config


def _parse_assignment(config: PipelineConfig, assignment: str) -> Tuple[Optional[str], str, Any]:
    """`(section or None, name, value)` of one `name=value` or `section.name=value`; a bad one is a ConfigError."""
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
            sections = [f.name for f in dataclasses.fields(config) if dataclasses.is_dataclass(getattr(config, f.name))]
            raise ConfigError(f"--set {path}: unknown section {section!r}; sections: {', '.join(sections)}")
        target = getattr(config, section)
    else:
        raise ConfigError(f"--set {path}: use name or section.name")
    name = parts[-1]
    if isinstance(target, ComponentParameters):
        return section, name, type(target).parse_field(name, raw)
    hints = typing.get_type_hints(type(target))
    if name not in hints or dataclasses.is_dataclass(getattr(target, name)):
        settings = [key for key in sorted(hints) if not dataclasses.is_dataclass(getattr(target, key))]
        raise ConfigError(f"--set {path}: unknown setting {name!r}; settings: {', '.join(settings)}")
    return section, name, parse_setting(hints[name], raw, path)


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
        help="override a setting of pipeline/config.py or of a component's spec.py, repeatable, e.g. "
        f"{set_examples}. Tuples are comma-separated (trainer.hidden_units=64,32); pairs are NAME:VALUE "
        "(rebalance.target_counts=0:5000,1:500); none clears an optional setting",
    )
