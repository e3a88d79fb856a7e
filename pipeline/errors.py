"""Errors a user can act on: the runners print them as one line instead of a traceback."""


class UserInputError(ValueError):
    """Bad input (a file, column, value or folder) with what to do about it in the message."""
