"""Errors a user can act on: the runners print them as one line instead of a traceback.

`UserInputError` lives in `components.common.errors`, so that components raise it without
importing the pipeline; `ConfigError` is the components' own `ParameterError` (one error type for
every setting). Both are re-exported here for the pipeline's own modules and runners, without
loading TensorFlow, so that flag and setting errors come before it.
"""

from components.common.errors import UserInputError
from components.common.parameters import ParameterError as ConfigError

__all__ = ["ConfigError", "UserInputError"]
