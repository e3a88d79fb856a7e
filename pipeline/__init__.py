"""Pipeline definition, configuration and data preparation for imbalanced classification."""

# Before anything else: importing `components` sets the Keras that TensorFlow loads (see its docstring).
import components  # noqa: F401
