"""Checks on the runner's output folder, made before anything is written there."""

from __future__ import annotations

import pathlib
import sqlite3

from pipeline.errors import UserInputError

METADATA_FILENAME = "metadata.sqlite"


def check_output_folder(output: pathlib.Path, pipeline_name: str) -> None:
    """Refuses an output folder whose metadata store belongs to another pipeline (or is not a store).

    Mixing two pipelines' artifacts in one store would let one pipeline's Evaluator
    compare against the other's blessed model; a user meant to pick another folder.
    """
    metadata_path = output / METADATA_FILENAME
    if not metadata_path.exists():
        return
    try:
        with sqlite3.connect(f"file:{metadata_path}?mode=ro", uri=True) as connection:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not {"Context", "Type", "MLMDEnv"} <= tables:
                raise UserInputError(
                    f"{metadata_path} is not an ML Metadata store; choose another --output folder or move that file"
                )
            names = [
                row[0]
                for row in connection.execute(
                    "SELECT c.name FROM Context c JOIN Type t ON c.type_id = t.id WHERE t.name = 'pipeline'"
                )
            ]
    except sqlite3.DatabaseError as error:
        raise UserInputError(
            f"{metadata_path} is not a readable SQLite ML Metadata store ({error}); choose another --output folder"
        ) from error
    others = sorted(set(names) - {pipeline_name})
    if others:
        raise UserInputError(
            f"{output} holds the ML Metadata of another pipeline ({', '.join(others)}), not {pipeline_name!r}; "
            f"choose another --output folder, or pass --pipeline-name {others[0]} to continue that pipeline"
        )
