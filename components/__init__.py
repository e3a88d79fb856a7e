"""Custom TFX components for imbalanced classification.

Importing this package chooses the Keras that TensorFlow loads and its CPU kernels, so that every
entry point (the runners, the benchmarks) gets them from one place instead of a preamble of its
own (the tests set them in `conftest.py`):

- `TF_USE_LEGACY_KERAS=1`: TFX 1.16 works with Keras 2 only (the `tf_keras` package).
  TensorFlow 2.16 reads this variable once, when it is first imported, and without it binds
  `tf.keras` to Keras 3. It is assigned, not `setdefault`: a "0" or "" inherited from a shell
  would hand the pipeline Keras 3, which it cannot run on.
- `TF_ENABLE_ONEDNN_OPTS=0` unless already set: TensorFlow's oneDNN kernels choose their code
  path by the CPU's instruction set when they run (AVX2, AVX-512, AMX), so the same Examples and
  seed trained a different model on another x86 host, and on this one with oneDNN capped at AVX2
  (`ONEDNN_MAX_CPU_ISA`). Without them TensorFlow runs its Eigen kernels, which are fixed when
  the wheel is built, so the model no longer depends on which instruction sets the CPU has.
  Set it to 1 for oneDNN's kernels (no faster on this project's small models: RESULTS.md).
- `TF_CPP_MIN_LOG_LEVEL=2` unless already set: TensorFlow's C++ start-up notices (CUDA, oneDNN)
  stay out of the runners' output; set it to 0 to see them.

This works only if nothing imported TensorFlow before: entry points import a first-party module
(`components` or `pipeline`, which imports this package) before any TensorFlow or TFX import.
"""

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
