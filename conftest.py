"""Test-wide setup: TFX 1.16 needs Keras 2 (tf-keras), chosen before TensorFlow is imported.

`components/__init__.py` sets the same variables for the package, but a test module may import
TensorFlow or TFX before any first-party module (isort puts third-party imports first), so the
tests set them here, once, before any test module is collected.
"""

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
