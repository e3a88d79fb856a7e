"""The whole-pipeline speed benchmark of issue 18: a fresh run, a cached rerun and a second span, timed.

    .venv/bin/python -m benchmarks.pipeline_bench --output /tmp/pipeline_bench          # or: make bench-pipeline
    .venv/bin/python -m benchmarks.pipeline_bench --output /tmp/b --rows 20000 --set trainer.max_epochs=3

Not a timed test: the figures depend on the machine and on whoever else shares its cores, so the benchmark
prints them beside the 1-minute load average and the issue's targets, and a person judges them. Into a fresh
--output it runs `local_runner.py` three times as a subprocess, as a user would (`inputs.py`, `runs.py`):

1. `fresh`: from an empty output folder, data prep included;
2. `rerun`: the same command again, nothing changed: ML Metadata should serve every component from its cache;
3. `span 2`: a second span holding a copy of span 1's rows (the README's scheduled retraining: a new
   `span-<N>/` folder beside the first), so ExampleGen reads span 2 and everything after it runs again.

The table (`table.py`) gives each run's wall seconds, the peak RSS of the runner's process tree, how many
components ran or came from the cache, the eval metrics the run summary printed, and each component's seconds
from ML Metadata; every figure carries its ratio to the same cell of the last pipeline_bench table in
benchmarks/RESULTS.md. The same figures go to OUTPUT/pipeline_bench.json and the table to OUTPUT/pipeline_bench.md.
"""
