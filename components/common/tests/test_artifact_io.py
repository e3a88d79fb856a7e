"""write_text_atomically: the new text replaces the old in one step, and a failed write changes nothing."""

import os

import pytest
import tensorflow as tf

from components.common.artifact_io import write_text_atomically

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
