"""Custom TFX components for imbalanced classification.

Importing this package chooses the Keras that TensorFlow loads, so that every entry point (the
runners, the benchmarks) gets it from one place instead of a preamble of its own (the tests
set it in `conftest.py`):

- `TF_USE_LEGACY_KERAS=1`: TFX 1.16 works with Keras 2 only (the `tf_keras` package).
  TensorFlow 2.16 reads this variable once, when it is first imported, and without it binds
  `tf.keras` to Keras 3. It is assigned, not `setdefault`: a "0" or "" inherited from a shell
  would hand the pipeline Keras 3, which it cannot run on.
- `TF_CPP_MIN_LOG_LEVEL=2` unless already set: TensorFlow's C++ start-up notices (CUDA, oneDNN)
  stay out of the runners' output; set it to 0 to see them.

This works only if nothing imported TensorFlow before: entry points import a first-party module
(`components` or `pipeline`, which imports this package) before any TensorFlow or TFX import.
"""

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
