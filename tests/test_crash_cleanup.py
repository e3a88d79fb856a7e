"""`pipeline/crash_cleanup.py` on a hand-made ML Metadata store: what it marks, removes and keeps."""

import pathlib

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline import crash_cleanup


def _store(path: pathlib.Path) -> metadata_store.MetadataStore:
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = str(path)
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return metadata_store.MetadataStore(connection)


def _execution(store, node_id: str, state) -> int:
    [type_id] = [store.put_execution_type(metadata_store_pb2.ExecutionType(name=f"tfx.{node_id}"))]
    node_type = store.put_context_type(metadata_store_pb2.ContextType(name="node"))
    execution = metadata_store_pb2.Execution(type_id=type_id, last_known_state=state)
    [context_id] = store.put_contexts([metadata_store_pb2.Context(type_id=node_type, name=f"demo.{node_id}")])
    [execution_id] = store.put_executions([execution])
    store.put_attributions_and_associations(
        [], [metadata_store_pb2.Association(execution_id=execution_id, context_id=context_id)]
    )
    return execution_id


def _folders(root: pathlib.Path, node_id: str, execution_id: int):
    paths = [
        root / node_id / "model" / str(execution_id),
        root / node_id / "model_run" / str(execution_id) / "decoded_rows_cache",
        root / node_id / ".system" / "executor_execution" / str(execution_id) / ".temp",
        root / node_id / ".system" / "stateful_working_dir" / "0a1b2c",
    ]
    for path in paths:
        path.mkdir(parents=True)
        (path / "data").write_text("x")
    return paths


def test_an_unfinished_execution_is_marked_failed_and_only_its_folders_go(tmp_path):
    root, metadata = tmp_path / "pipeline_root", tmp_path / "metadata.sqlite"
    store = _store(metadata)
    running = _execution(store, "Trainer", metadata_store_pb2.Execution.RUNNING)
    complete = _execution(store, "Transform", metadata_store_pb2.Execution.COMPLETE)
    dead_folders = _folders(root, "Trainer", running)
    finished_model = root / "Trainer" / "model" / str(complete)
    finished_model.mkdir(parents=True)
    kept = _folders(root, "Transform", complete)

    lines = crash_cleanup.clean_after_crash(tmp_path, root, tmp_path / "prepared_data", metadata, "4242")

    assert lines == [
        f"Trainer execution {running} was left unfinished by the run of pid 4242: marked FAILED in ML Metadata; "
        f"removed Trainer/model/{running}, Trainer/model_run/{running}, Trainer/.system/executor_execution/{running}, "
        "Trainer/.system/stateful_working_dir/0a1b2c"
    ]
    assert not any(path.exists() for path in dead_folders)
    assert finished_model.exists() and all(path.exists() for path in kept)
    [marked, untouched] = _store(metadata).get_executions_by_id([running, complete])
    assert marked.last_known_state == metadata_store_pb2.Execution.FAILED
    assert "pid 4242" in marked.custom_properties[crash_cleanup.CLEANUP_PROPERTY].string_value
    assert untouched.last_known_state == metadata_store_pb2.Execution.COMPLETE
    assert crash_cleanup.clean_after_crash(tmp_path, root, tmp_path / "prepared_data", metadata, None) == []


def test_pending_outputs_of_a_dead_execution_are_abandoned(tmp_path):
    store = _store(tmp_path / "metadata.sqlite")
    running = _execution(store, "Evaluator", metadata_store_pb2.Execution.RUNNING)
    artifact_type = store.put_artifact_type(metadata_store_pb2.ArtifactType(name="ModelEvaluation"))
    [artifact_id] = store.put_artifacts(
        [metadata_store_pb2.Artifact(type_id=artifact_type, uri="x", state=metadata_store_pb2.Artifact.PENDING)]
    )
    store.put_events(
        [metadata_store_pb2.Event(artifact_id=artifact_id, execution_id=running, type=metadata_store_pb2.Event.OUTPUT)]
    )
    crash_cleanup.clean_unfinished_executions(tmp_path / "metadata.sqlite", tmp_path / "root", "an earlier run")
    [artifact] = _store(tmp_path / "metadata.sqlite").get_artifacts_by_id([artifact_id])
    assert artifact.state == metadata_store_pb2.Artifact.ABANDONED


def test_no_store_means_nothing_to_clean_and_staging_folders_are_swept(tmp_path):
    prepared = tmp_path / "prepared_data"
    (prepared / ".span-1.abc123.part").mkdir(parents=True)
    (prepared / "span-1").mkdir()
    lines = crash_cleanup.clean_after_crash(
        tmp_path, tmp_path / "pipeline_root", prepared, tmp_path / "metadata.sqlite", None
    )
    assert lines == ["removed data prep's staging folder prepared_data/.span-1.abc123.part left by an earlier run"]
    assert sorted(path.name for path in prepared.iterdir()) == ["span-1"]
    assert not (tmp_path / "metadata.sqlite").exists(), "the cleanup never creates a store"
