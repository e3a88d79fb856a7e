"""Progress lines: log records a component means for the user's terminal, not only for the log file.

A local run sends every log record to a file and shows only component start/end lines
(`pipeline/console.py`); a record whose message starts with `PROGRESS_PREFIX` is shown too.
Components log through absl as usual, so on Kubeflow the same lines land in the pod's log.
"""

PROGRESS_PREFIX = "Progress: "
