"""Clears what a killed run left behind, before the next run in the same output folder starts.

A run killed mid-component (kill -9, a lost machine, an out-of-memory kill) leaves:
- its execution `RUNNING` in ML Metadata forever, which misleads anyone reading the store;
- the execution's output folders (`<node>/<output key>/<execution id>/`, for the Trainer with
  the decoded-rows cache inside `model_run/<id>/`), its `.system/executor_execution/<id>/`
  scratch folder and its stateful working folder, none of which any artifact points to;
- data prep's staging folders (`prepared_data/.span-N.*.part`).

The caller holds the output folder's run lock (`run_lock.RunLock`), and every local run holds
it for its whole length, so any execution still `RUNNING` (or `NEW`) in this store belongs to a
run that is dead: marking it FAILED and removing its folders cannot touch a live run's work.
Folders are removed only inside the pipeline root; artifacts that some execution recorded as an
output of a finished run are never touched.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
from typing import List, Optional, Sequence

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline.run_summary import open_store

# Custom property of a marked execution that says why (read by people browsing ML Metadata).
CLEANUP_PROPERTY = "marked_failed_by_cleanup"
_UNFINISHED = (metadata_store_pb2.Execution.RUNNING, metadata_store_pb2.Execution.NEW)
_SYSTEM_DIR = ".system"
_STAGING_GLOB = ".*.part"


@dataclasses.dataclass(frozen=True)
class CleanedExecution:
    """One execution a dead run left unfinished, and the folders removed for it."""

    node_id: str
    execution_id: int
    removed: Sequence[str]

    def describe(self, pipeline_root: pathlib.Path, dead_run: str) -> str:
        folders = ", ".join(os.path.relpath(path, pipeline_root) for path in self.removed) or "no folders"
        return (
            f"{self.node_id} execution {self.execution_id} was left unfinished by {dead_run}: "
            f"marked FAILED in ML Metadata; removed {folders}"
        )


def _node_id(store: metadata_store.MetadataStore, execution_id: int) -> Optional[str]:
    """The pipeline node of an execution, from its `node` context (`<pipeline>.<node id>`)."""
    node_types = {context_type.id for context_type in store.get_context_types() if context_type.name == "node"}
    for context in store.get_contexts_by_execution(execution_id):
        if context.type_id in node_types:
            return context.name.split(".", 1)[-1]
    return None


def _inside(path: pathlib.Path, root: pathlib.Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return path.resolve() != root.resolve()


def _remove(path: pathlib.Path, root: pathlib.Path, removed: List[str]) -> None:
    if _inside(path, root) and (path.is_dir() or path.is_file()):
        shutil.rmtree(path) if path.is_dir() else path.unlink()
        removed.append(str(path))


def _execution_folders(node_dir: pathlib.Path, execution_id: int) -> List[pathlib.Path]:
    """Every folder TFX names after the execution: one per output key, and its executor scratch folder."""
    folders = [child / str(execution_id) for child in sorted(node_dir.iterdir()) if child.name != _SYSTEM_DIR]
    folders.append(node_dir / _SYSTEM_DIR / "executor_execution" / str(execution_id))
    # Stateful working folders are named by a random id; under the lock, any one left belongs to a dead run.
    stateful = node_dir / _SYSTEM_DIR / "stateful_working_dir"
    if stateful.is_dir():
        folders.extend(sorted(stateful.iterdir()))
    return folders


def _mark_failed(store: metadata_store.MetadataStore, execution: metadata_store_pb2.Execution, reason: str) -> None:
    execution.last_known_state = metadata_store_pb2.Execution.FAILED
    execution.custom_properties[CLEANUP_PROPERTY].string_value = reason
    store.put_executions([execution])
    # Outputs registered before the crash (PENDING) will never be written: say so in the store.
    pending = [
        artifact
        for event in store.get_events_by_execution_ids([execution.id])
        if event.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.PENDING_OUTPUT)
        for artifact in store.get_artifacts_by_id([event.artifact_id])
        if artifact.state == metadata_store_pb2.Artifact.PENDING
    ]
    for artifact in pending:
        artifact.state = metadata_store_pb2.Artifact.ABANDONED
    if pending:
        store.put_artifacts(pending)


def clean_unfinished_executions(
    metadata_path: pathlib.Path, pipeline_root: pathlib.Path, dead_run: str
) -> List[CleanedExecution]:
    """Marks every unfinished execution FAILED and removes its folders; `dead_run` names the run in the store."""
    if not metadata_path.exists():
        return []
    # Returned above when no store exists, so opening it never creates one.
    store = open_store(str(metadata_path))
    cleaned = []
    for execution in store.get_executions():
        if execution.last_known_state not in _UNFINISHED:
            continue
        node_id = _node_id(store, execution.id) or f"execution-type-{execution.type_id}"
        _mark_failed(store, execution, f"left unfinished by {dead_run}")
        removed: List[str] = []
        node_dir = pipeline_root / node_id
        if node_dir.is_dir():
            for folder in _execution_folders(node_dir, execution.id):
                _remove(folder, pipeline_root, removed)
        cleaned.append(CleanedExecution(node_id, execution.id, tuple(removed)))
    return cleaned


def sweep_staging(prepared_data: pathlib.Path) -> List[str]:
    """Removes data prep's staging folders (`.span-N.*.part`) that a killed run left; returns their paths."""
    if not prepared_data.is_dir():
        return []
    removed: List[str] = []
    for staging in sorted(prepared_data.glob(_STAGING_GLOB)):
        _remove(staging, prepared_data, removed)
    return removed


def clean_after_crash(
    output: pathlib.Path,
    pipeline_root: pathlib.Path,
    prepared_data: pathlib.Path,
    metadata_path: pathlib.Path,
    previous_pid: Optional[str],
) -> List[str]:
    """Everything above, as the lines the runner prints and the run summary repeats."""
    dead_run = f"the run of pid {previous_pid}" if previous_pid else "an earlier run"
    lines = [
        cleaned.describe(pipeline_root, dead_run)
        for cleaned in clean_unfinished_executions(metadata_path, pipeline_root, dead_run)
    ]
    lines += [
        f"removed data prep's staging folder {os.path.relpath(path, output)} left by {dead_run}"
        for path in sweep_staging(prepared_data)
    ]
    return lines
