"""write_text_atomically: the new text replaces the old in one step, and a failed write changes nothing.

write_artifact_files and read_schema: an artifact folder's files, written and read through fileio.
"""

import os

import pytest
import tensorflow as tf
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.types import standard_artifacts
from tfx.utils import io_utils

from components.common.artifact_io import read_schema, write_artifact_files, write_text_atomically

FILE_NAME = "report.json"


def _assert_only_file_holds(directory, text):
    """The target holds `text` and is the only file: no temporary file was left behind."""
    assert os.listdir(directory) == [FILE_NAME]
    with open(os.path.join(directory, FILE_NAME)) as handle:
        assert handle.read() == text


def test_writes_the_text(tmp_path):
    write_text_atomically(str(tmp_path / FILE_NAME), '{"a": 1}\n')
    _assert_only_file_holds(tmp_path, '{"a": 1}\n')


def test_replaces_an_existing_file(tmp_path):
    write_text_atomically(str(tmp_path / FILE_NAME), "old text that is longer than the new one\n")
    write_text_atomically(str(tmp_path / FILE_NAME), "new\n")
    _assert_only_file_holds(tmp_path, "new\n")


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path):
    write_text_atomically(str(tmp_path / FILE_NAME), "old\n")
    with pytest.raises(TypeError):
        write_text_atomically(str(tmp_path / FILE_NAME), {"not": "text"})  # type: ignore[arg-type]
    _assert_only_file_holds(tmp_path, "old\n")


def test_a_failed_rename_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    write_text_atomically(str(tmp_path / FILE_NAME), "old\n")

    def failing_rename(*args, **kwargs):
        raise OSError("rename failed")

    monkeypatch.setattr("components.common.artifact_io.fileio.rename", failing_rename)
    with pytest.raises(OSError, match="rename failed"):
        write_text_atomically(str(tmp_path / FILE_NAME), "new\n")
    _assert_only_file_holds(tmp_path, "old\n")


def test_a_missing_directory_raises_and_creates_nothing(tmp_path):
    # fileio raises its own NotFoundError (an OSError) or TensorFlow's, depending on the call that fails.
    with pytest.raises((OSError, tf.errors.OpError)):
        write_text_atomically(str(tmp_path / "missing" / FILE_NAME), "text\n")
    assert os.listdir(tmp_path) == []


def test_write_artifact_files_makes_the_folder_and_writes_each_file(tmp_path):
    uri = str(tmp_path / "artifact" / "7")
    paths = write_artifact_files(uri, {"report.json": "{}\n", "summary.txt": "one line\n"})
    assert paths == [os.path.join(uri, "report.json"), os.path.join(uri, "summary.txt")]
    assert sorted(os.listdir(uri)) == ["report.json", "summary.txt"]
    with open(paths[1]) as handle:
        assert handle.read() == "one line\n"


def test_read_schema_reads_the_one_file_of_a_schema_artifact(tmp_path):
    schema = schema_pb2.Schema()
    schema.feature.add(name="Class", type=schema_pb2.INT)
    io_utils.write_pbtxt_file(str(tmp_path / "schema" / "schema.pbtxt"), schema)
    artifact = standard_artifacts.Schema()
    artifact.uri = str(tmp_path / "schema")
    assert read_schema([artifact]) == schema
