"""The gate's errors, one class per way it refuses to judge, so callers can tell a bad setting from a bad input."""

from __future__ import annotations

from components.common.parameters import ParameterError


class BlessingGateError(ValueError):
    """Base of the gate's errors: bad settings or inputs it cannot judge."""


class GateConfigError(BlessingGateError, ParameterError):
    """A gate setting is out of range or of the wrong type; a ParameterError, so `--set` reports it like any other."""


class GateInputError(BlessingGateError):
    """The evaluation, blessing or schema handed to the gate is unusable or inconsistent."""


class NoPositivesError(BlessingGateError):
    """The eval split has no positive examples, so recall is undefined and nothing can be blessed."""
