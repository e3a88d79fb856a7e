"""One local run at a time per output folder: an exclusive lock on `<output>/.run.lock`."""

from __future__ import annotations

import errno
import fcntl
import os
import pathlib
from typing import Optional, TextIO

from pipeline.errors import UserInputError

LOCK_FILENAME = ".run.lock"


class RunInProgressError(UserInputError):
    """Another run holds the output folder's lock."""


class RunLock:
    """An exclusive, non-blocking lock on `<output>/.run.lock` for the length of one run.

    The OS drops the lock when the process dies, so a crashed run never blocks the next one.
    The file holds the holder's pid while it runs, which the refusal names, and is emptied on a
    clean exit: a pid found in it on entry (`previous_holder`) is a run that died holding it.
    """

    def __init__(self, output: pathlib.Path):
        self.path = pathlib.Path(output) / LOCK_FILENAME
        self._handle: Optional[TextIO] = None
        self.previous_holder: Optional[str] = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            if error.errno in (errno.EAGAIN, errno.EACCES):
                raise RunInProgressError(
                    f"another run is using {self.path.parent} (pid {holder}); wait for it to finish, "
                    "or use another --output"
                ) from None
            raise
        handle.seek(0)
        self.previous_holder = handle.read().strip() or None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._handle is not None:
            self._handle.seek(0)
            self._handle.truncate()
            self._handle.flush()
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
