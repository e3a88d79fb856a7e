"""Writing artifact files so that a reader never sees half a file.

Shared by every component that writes a report or summary next to its artifacts;
all I/O goes through `tfx.dsl.io.fileio`, so it works on local disk and GCS alike.
"""

from __future__ import annotations

import os
import uuid

from tfx.dsl.io import fileio


def write_text_atomically(path: str, text: str) -> None:
    """Writes `text` to a temporary file beside `path`, then renames it over `path`.

    A reader sees the old file or the new one, never a partial write; if anything fails,
    the old file is left as it was and the temporary file is removed. The directory must exist.
    """
    directory, file_name = os.path.split(path)
    temp_path = os.path.join(directory, f".{file_name}.{uuid.uuid4().hex}.tmp")
    try:
        with fileio.open(temp_path, "w") as handle:
            handle.write(text)
        fileio.rename(temp_path, path, overwrite=True)
    finally:
        if fileio.exists(temp_path):
            fileio.remove(temp_path)
