"""`python -m benchmarks.strategy_report --help`: the command line of `cli.py`."""

import sys

from benchmarks.strategy_report.cli import main

if __name__ == "__main__":
    sys.exit(main())
