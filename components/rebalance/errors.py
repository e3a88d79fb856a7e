"""Rebalance's errors, one class per way it refuses, so callers can tell a bad setting from a bad input."""

from __future__ import annotations

from components.common.errors import UserInputError
from components.common.parameters import ParameterError


class RebalanceError(ValueError):
    """Base class of every error Rebalance raises on purpose."""


class RebalanceParameterError(RebalanceError, ParameterError):
    """A Rebalance setting is out of range or inconsistent; a ParameterError, so `--set` reports it like any other."""


class RebalanceInputError(RebalanceError, UserInputError):
    """The input examples (or class counts) cannot be rebalanced as configured; the message says how to fix it."""


class RebalanceInternalError(RebalanceError):
    """The Beam job wrote other counts than planned: a bug or a runner that drops or repeats records."""


class CandidateShortfallError(RebalanceInternalError):
    """A single-pass cut saw fewer candidates than it needs (an 8-sigma event); redone in two passes."""
