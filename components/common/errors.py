"""The error a user can act on, shared by every component and the pipeline that runs them."""

from __future__ import annotations


class UserInputError(ValueError):
    """Bad input (a file, column, value or folder), in one clear line that says what to do about it.

    The runners print it as that one line instead of a traceback.
    """
