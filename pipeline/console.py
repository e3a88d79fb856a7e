"""What the terminal shows during a local run, and where everything else goes.

A run of TFX, Beam, TensorFlow and Keras writes hundreds of lines to the terminal: INFO logs of
every library, deprecation warnings, Keras epoch lines. A user needs four things from it: which
component runs now, how far the long steps are, what the result is, and where the details are.
So, unless `--verbose`:
- every Python log record (absl, TFX, Beam, TensorFlow, Keras' epoch lines) and every Python
  warning goes to `OUTPUT/logs/run-<time>.log`, none to the terminal;
- the terminal gets one line when a component starts (once it has run for a second) and one
  when it ends (with its wall time, or `cached`), from TFX's own "Component X is
  running/finished" records, plus the progress lines the components log on purpose
  (`PROGRESS_PREFIX`);
- the runner prints its data lines and the run summary itself, as before.
TensorFlow's C++ start-up messages are silenced by the runner before TensorFlow loads.
"""

from __future__ import annotations

import datetime
import logging
import logging.handlers
import pathlib
import re
import sys
import threading
import time
import warnings
from typing import Dict, Optional, TextIO

from absl import logging as absl_logging

from components.common.progress import PROGRESS_PREFIX

LOG_DIR = "logs"

_STARTED = re.compile(r"^Component (?P<node>\S+) is running\.$")
_FINISHED = re.compile(r"^Component (?P<node>\S+) is finished\.$")
_CACHED = re.compile(r"^A cached execution \d+ is used\.$")


class ComponentLines(logging.Handler):
    """Turns TFX's per-component log records and the components' progress records into terminal lines.

    A component's start line is printed once it has run for `start_line_after` seconds (or when it
    logs progress): a component that ends sooner gets its end line only, so the steps that take
    no time (SchemaGen, ClassSkew, the gate, the Pusher) cost one line each, not two.
    """

    def __init__(self, stream: TextIO, start_line_after: float = 1.0):
        super().__init__(level=logging.INFO)
        self.stream = stream
        self.start_line_after = start_line_after
        self._started: Dict[str, float] = {}
        self._running: Optional[str] = None
        self._announced: Optional[str] = None
        self._timer: Optional[threading.Timer] = None
        self._cached: Dict[str, bool] = {}
        self._print_lock = threading.Lock()

    def _print(self, line: str) -> None:
        with self._print_lock:
            print(f"{datetime.datetime.now():%H:%M:%S}  {line}", file=self.stream, flush=True)

    def _announce(self, node: str) -> None:
        """The start line, at most once per component, and only while it still runs."""
        with self._print_lock:
            if self._running != node or self._announced == node:
                return
            self._announced = node
        self._print(f"{node} ...")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return
        if message.startswith(PROGRESS_PREFIX):
            if self._running:
                self._announce(self._running)
            where = f"{self._running}: " if self._running else ""
            self._print(f"  {where}{message[len(PROGRESS_PREFIX) :]}")
            return
        started, finished = _STARTED.match(message), _FINISHED.match(message)
        if started:
            node = started.group("node")
            self._started[node], self._running = time.time(), node
            if not _is_resolver(node):
                self._timer = threading.Timer(self.start_line_after, self._announce, args=(node,))
                self._timer.daemon = True
                self._timer.start()
        elif _CACHED.match(message) and self._running:
            self._cached[self._running] = True
        elif finished:
            node = finished.group("node")
            with self._print_lock:
                self._running = None
            if self._timer is not None:
                self._timer.cancel()
            if not _is_resolver(node):
                seconds = time.time() - self._started.get(node, time.time())
                outcome = "cached" if self._cached.get(node) else f"done in {seconds:.1f} s"
                self._print(f"{node} {outcome}")


def _is_resolver(node_id: str) -> bool:
    """Resolvers look up artifacts in a blink on every run; a line for each would be noise."""
    return "resolver" in node_id.lower()


# Records held from start-up until the run's log file exists: importing TFX and Google's client
# libraries raises a dozen FutureWarnings before any settings are read.
_EARLY_CAPACITY = 100_000


def hold_early_messages() -> None:
    """Holds every log record and warning in memory until `route_logs` writes them to the log file."""
    logging.captureWarnings(True)
    root = logging.getLogger()
    if not any(isinstance(handler, logging.handlers.MemoryHandler) for handler in root.handlers):
        root.addHandler(logging.handlers.MemoryHandler(_EARLY_CAPACITY, flushLevel=logging.CRITICAL + 1))


def route_logs(output: pathlib.Path, verbose: bool, stream: TextIO = sys.stdout) -> Optional[pathlib.Path]:
    """Sends every log record and warning to a file in `output/logs` and component lines to `stream`.

    Returns the log file's path, or None with `verbose` (then nothing changes: every library logs
    to the terminal as it would). Safe to call once per run in the same process (scheduled runs):
    the handlers of the previous call are replaced.
    """
    if verbose:
        return None
    log_dir = output / LOG_DIR
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"run-{datetime.datetime.now():%Y%m%d-%H%M%S}.log"
    file_handler = logging.FileHandler(log_path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        if isinstance(handler, logging.handlers.MemoryHandler):
            handler.setTarget(file_handler)
            handler.flush()
        handler.close()
    root.addHandler(file_handler)
    root.addHandler(ComponentLines(stream))
    root.setLevel(logging.INFO)
    # Loggers that write to the terminal themselves: send them through the root's handlers instead.
    for name in ("absl", "tensorflow", "apache_beam"):
        library_logger = logging.getLogger(name)
        for handler in list(library_logger.handlers):
            library_logger.removeHandler(handler)
        library_logger.propagate = True
    # absl re-derives its logger's level from its verbosity flag (default: WARNING) when a library
    # touches it mid-run (the Transform does); INFO set here is what it re-derives, and what the
    # component lines above need.
    absl_logging.set_verbosity(absl_logging.INFO)
    logging.captureWarnings(True)
    warnings.simplefilter("default")
    _quiet_keras()
    return log_path


def _quiet_keras() -> None:
    """Keras prints its epoch lines to stdout unless interactive logging is off; then it logs them."""
    import tensorflow as tf

    tf.keras.utils.disable_interactive_logging()
