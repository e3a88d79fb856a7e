"""The run summary says what Rebalance did to each split it was asked to resample, and why nothing changed."""

import json

from pipeline.run_summary import rebalance_lines


def _write(tmp_path, strategy, splits):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "rebalance_summary.json").write_text(json.dumps({"strategy": strategy, "splits": splits}))
    return str(tmp_path)


def test_a_strategy_that_changed_nothing_gets_a_line_with_the_reason(tmp_path):
    uri = _write(
        tmp_path,
        "smote",
        {
            "train": {"rebalanced": False, "note": "already at the target ratio 0.1", "before": {}, "after": {}},
            "eval": {"rebalanced": False, "note": "not in splits: copied unchanged", "before": {}, "after": {}},
        },
    )
    assert rebalance_lines(uri) == ["rebalance (smote): train unchanged: already at the target ratio 0.1"]


def test_a_resampled_split_shows_its_counts_and_none_says_nothing(tmp_path):
    splits = {"train": {"rebalanced": True, "note": "", "before": {"0": 90, "1": 10}, "after": {"0": 50, "1": 10}}}
    assert rebalance_lines(_write(tmp_path / "a", "undersample", splits)) == [
        "rebalance (undersample): train {'0': 90, '1': 10} -> {'0': 50, '1': 10}"
    ]
    assert rebalance_lines(_write(tmp_path / "b", "none", splits)) == []
    assert rebalance_lines(str(tmp_path / "missing")) == []
