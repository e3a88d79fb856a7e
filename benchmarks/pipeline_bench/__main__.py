"""`python -m benchmarks.pipeline_bench --help`: the command line of `cli.py`."""

import sys

from benchmarks.pipeline_bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
