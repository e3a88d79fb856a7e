"""`pipeline/console.py`: what reaches the terminal and what goes to the run's log file."""

import io
import logging
import time
import warnings

from components.common.progress import PROGRESS_PREFIX
from pipeline import console


def _records(handler, *messages):
    logger = logging.getLogger("tfx.test_console")
    logger.setLevel(logging.INFO)
    for message in messages:
        handler.handle(logger.makeRecord(logger.name, logging.INFO, __file__, 1, message, None, None))


def _lines(stream):
    return [line.split("  ", 1)[1] for line in stream.getvalue().splitlines()]


def test_a_line_when_a_component_starts_and_one_when_it_ends_cached_or_timed():
    stream = io.StringIO()
    handler = console.ComponentLines(stream, start_line_after=0.05)
    _records(handler, "Component Transform is running.", "A cached execution 8 is used.")
    time.sleep(0.5)
    _records(
        handler,
        "Component Transform is finished.",
        "Component latest_blessed_model_resolver is running.",
        "Component latest_blessed_model_resolver is finished.",
        "Component Trainer is running.",
        f"{PROGRESS_PREFIX}ensemble member 1/2 on 90 positive and about 171 negative rows",
        "Epoch 1/30 - loss: 0.1",
        "Component Trainer is finished.",
    )
    lines = _lines(stream)
    assert lines[:3] == ["Transform ...", "Transform cached", "Trainer ..."]
    assert lines[3] == "  Trainer: ensemble member 1/2 on 90 positive and about 171 negative rows"
    assert lines[4].startswith("Trainer done in ") and lines[4].endswith(" s")
    assert len(lines) == 5, "resolvers and every other record stay off the terminal"


def test_a_component_that_ends_at_once_gets_its_end_line_only():
    stream = io.StringIO()
    handler = console.ComponentLines(stream, start_line_after=5.0)
    _records(handler, "Component ClassSkew is running.", "Component ClassSkew is finished.")
    time.sleep(0.1)
    assert len(_lines(stream)) == 1 and _lines(stream)[0].startswith("ClassSkew done in ")


def test_records_and_warnings_go_to_the_log_file_not_the_terminal(tmp_path):
    stream = io.StringIO()
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    try:
        log_path = console.route_logs(tmp_path, verbose=False, stream=stream)
        logging.getLogger("apache_beam.test").warning("a Beam warning")
        logging.getLogger("absl").info("Component Evaluator is running.")
        warnings.warn("a deprecation notice", UserWarning, stacklevel=1)
        for handler in root.handlers:
            handler.flush()
        text = log_path.read_text()
        assert log_path.parent == tmp_path / console.LOG_DIR
        assert "a Beam warning" in text and "a deprecation notice" in text
        logging.getLogger("absl").info("Component Evaluator is finished.")
        assert _lines(stream)[-1].startswith("Evaluator done in "), stream.getvalue()
        assert "a Beam warning" not in stream.getvalue()
    finally:
        logging.captureWarnings(False)
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)


def test_verbose_changes_nothing(tmp_path):
    root = logging.getLogger()
    before = list(root.handlers)
    assert console.route_logs(tmp_path, verbose=True) is None
    assert list(root.handlers) == before and not (tmp_path / console.LOG_DIR).exists()


def test_the_quiet_summary_counts_components_joins_the_class_balance_and_ends_with_the_report():
    from pipeline.run_summary import NodeRun, RunSummary

    summary = RunSummary(
        run_id="run-1",
        nodes=[NodeRun("Trainer", "ran", 12.0), NodeRun("Transform", "cached", 0.1), NodeRun("r", "ran", 0, True)],
        class_skew_lines=["train: 0.17% positive (1:578, severe)", "eval: 0.17% positive (1:580, severe)"],
        training={},
        verdict="BLESSED: no check failed on 8 slices; too small to judge: a=b (n_pos=1)",
        metrics={},
        validation_failures=[],
        pushed_to="/serving/1",
        push_note="",
        too_small=["a=b"],
        gate_report_path="/out/report.html",
    )
    quiet = summary.render(total_seconds=3.0, component_table=False).splitlines()
    assert quiet[1] == "components: 1 cached, 1 ran"
    assert "class balance (ClassSkew): train: 0.17% positive (1:578, severe); eval: 0.17% positive" in quiet[2]
    assert quiet[-1] == "report: /out/report.html" and quiet[-2] == "total wall time: 3.0 s"
    assert not any(line.startswith("  too small to judge") for line in quiet), "the verdict line names them"
    full = summary.render(total_seconds=3.0).splitlines()
    assert "  Trainer                          ran         12.0 s" in full and "class balance (ClassSkew):" in full
