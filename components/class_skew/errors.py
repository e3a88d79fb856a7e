"""ClassSkew's errors, one class per way it refuses, so callers can tell a bad setting from bad data."""

from __future__ import annotations

from components.common.errors import UserInputError
from components.common.parameters import ParameterError


class ClassSkewInputError(UserInputError):
    """The statistics, schema or settings cannot give the label's class counts; the message says how to fix it."""


class ClassSkewParameterError(ClassSkewInputError, ParameterError):
    """A ClassSkew setting is out of range or of the wrong type; a ParameterError, so `--set` reports it alike."""


class ClassSkewError(UserInputError):
    """A finding whose configured action is `fail` (e.g. a single-class train split)."""
