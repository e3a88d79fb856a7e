"""Errors a user can act on: the runners print them as one line instead of a traceback.

`UserInputError` lives in `components.common.errors`, so that components raise it without
importing the pipeline; it is re-exported here for the pipeline's own modules and runners.
"""

from components.common.errors import UserInputError

__all__ = ["UserInputError"]
