"""Every engine's Beam arguments keep TFX from packaging itself for workers that run in this process."""

import sys

import apache_beam
from tfx.utils import dependency_utils

from pipeline import engines


def test_no_engine_makes_tfx_build_a_package_for_its_workers():
    for engine in engines.ENGINES:
        args = list(engines.beam_args_for(engine))
        # Unchanged: TFX found a dependency flag and built no sdist (which would add --extra_package=/tmp/...).
        assert dependency_utils.make_beam_dependency_flags(args) == args, engine


def test_the_sdk_container_names_this_beam_and_this_python():
    assert engines.SDK_CONTAINER_ARG == (
        f"--sdk_container_image=apache/beam_python{sys.version_info.major}.{sys.version_info.minor}_sdk:"
        f"{apache_beam.__version__}"
    )
