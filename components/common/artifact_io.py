"""Reading and writing artifact files, written once for every component; a reader never sees half a file.

Shared by every component that writes a report or summary next to its artifacts or reads a
Schema; all I/O goes through `tfx.dsl.io.fileio`, so it works on local disk and GCS alike.
"""

from __future__ import annotations

import os
import uuid
from typing import List, Mapping

from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import types
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import io_utils


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


def write_artifact_files(uri: str, files: Mapping[str, str]) -> List[str]:
    """Writes each `{file name: text}` into the artifact folder `uri` (made if absent), each atomically.

    Returns the paths written, in the order given.
    """
    fileio.makedirs(uri)
    paths = []
    for file_name, text in files.items():
        path = os.path.join(uri, file_name)
        write_text_atomically(path, text)
        paths.append(path)
    return paths


def read_schema(artifacts: List[types.Artifact]) -> schema_pb2.Schema:
    """The Schema in the one Schema artifact of `artifacts` (SchemaGen's or ImportSchemaGen's single file)."""
    schema_uri = artifact_utils.get_single_uri(artifacts)
    return io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(schema_uri))
