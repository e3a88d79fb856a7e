"""The files one rebalanced split is written to: no write may delete another's."""

import fnmatch
import itertools

import pytest
from apache_beam import coders
from apache_beam.io import filesystem, tfrecordio

from components.rebalance import jobs
from components.rebalance.plan import SYNTHESIS_STRATEGIES

PREFIXES = (
    jobs.OUTPUT_FILE_PREFIX,
    jobs.EXTRA_FILE_PREFIX,
    *(f"{jobs.SYNTHETIC_FILE_PREFIX}{strategy}" for strategy in SYNTHESIS_STRATEGIES),
)


def _sink(prefix: str) -> tfrecordio._TFRecordSink:
    """The sink `beam.io.WriteToTFRecord` builds for `RebalanceSplit`'s writes."""
    return tfrecordio._TFRecordSink(
        f"/split/{prefix}", coders.BytesCoder(), ".gz", 0, None, filesystem.CompressionTypes.GZIP
    )


@pytest.mark.parametrize("writer, other", list(itertools.permutations(PREFIXES, 2)))
@pytest.mark.parametrize("shards", [1, 2, 12])
def test_no_write_deletes_the_files_of_another_write_to_the_split(writer, other, shards):
    # Before renaming its shards into place, Beam's file sink deletes every file matching this glob
    # (FileBasedSink.pre_finalize; fnmatch is how a local glob matches a name); the split's writes
    # finalize in any order on a parallel runner.
    doomed = _sink(writer)._get_final_name_glob(shards)
    files = [_sink(other)._get_final_name(shard, shards) for shard in range(shards)]
    assert not any(fnmatch.fnmatch(path, doomed) for path in files), (writer, other, doomed)


def test_the_old_names_would_have_collided():
    """The check above can fail: `data_tfrecord`'s glob took `data_tfrecord-extra`'s shards."""
    doomed = _sink("data_tfrecord")._get_final_name_glob(1)
    assert fnmatch.fnmatch(_sink("data_tfrecord-extra")._get_final_name(0, 1), doomed)


def _touch(directory, *names):
    for name in names:
        (directory / name).write_bytes(b"")


def test_every_write_with_all_its_shards_is_complete(tmp_path):
    _touch(tmp_path, "data_tfrecord-00000-of-00002.gz", "data_tfrecord-00001-of-00002.gz")
    _touch(tmp_path, "data_tfrecord_extra-00000-of-00001.gz")
    assert jobs.missing_output_files(str(tmp_path), (jobs.OUTPUT_FILE_PREFIX, jobs.EXTRA_FILE_PREFIX)) == []


def test_a_deleted_write_or_shard_is_named(tmp_path):
    # The loss the old names caused: the main write deleted the cut records' only shard.
    _touch(tmp_path, "data_tfrecord-00000-of-00002.gz", "data_tfrecord_smote-00001-of-00003.gz")
    missing = jobs.missing_output_files(str(tmp_path), PREFIXES[:3])
    assert missing == [
        "data_tfrecord: shards [1] of 2 absent",
        "data_tfrecord_extra-*: no shard",
        "data_tfrecord_smote: shards [0, 2] of 3 absent",
    ]
