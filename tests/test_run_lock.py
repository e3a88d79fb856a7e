"""The one-run-at-a-time lock on a local output folder."""

import subprocess
import sys

import pytest

from pipeline.run_lock import RunInProgressError, RunLock


def test_a_second_run_on_the_same_output_is_refused(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(RunInProgressError, match=f"another run is using {tmp_path}"):
            with RunLock(tmp_path):
                pass
    with RunLock(tmp_path):  # released on exit
        pass


def test_lock_is_refused_across_processes_and_freed_when_the_holder_dies(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from pipeline.run_lock import RunLock; import time\nwith RunLock({str(tmp_path)!r}):\n"
            "    print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunInProgressError, match=f"pid {holder.pid}"):
            with RunLock(tmp_path):
                pass
    finally:
        holder.kill()
        holder.wait()
    with RunLock(tmp_path) as lock:
        assert lock.previous_holder == str(holder.pid), "the killed holder's pid is what the next run finds"
    with RunLock(tmp_path) as lock:
        assert lock.previous_holder is None, "a clean exit empties the file"
