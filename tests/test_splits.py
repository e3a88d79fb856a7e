"""The stratified splitter: exact counts per class, every order equally possible, seeded."""

from __future__ import annotations

import collections

import pytest

from pipeline.splits import SplitCountError, StratifiedSplitter, minimum_rows_per_class, split_targets

SHARES = {"train": 0.6, "valid": 0.2, "eval": 0.2}


@pytest.mark.parametrize("count", [0, 1, 2, 3, 4, 5, 7, 10, 99, 492, 284315])
def test_targets_add_up_and_stay_within_one_of_the_share(count):
    targets = split_targets(count, SHARES)
    assert sum(targets.values()) == count
    assert all(abs(targets[name] - share * count) < 1 for name, share in SHARES.items())


def test_minimum_rows_fill_every_split():
    assert minimum_rows_per_class(SHARES) == 4
    assert min(split_targets(4, SHARES).values()) == 1 and min(split_targets(3, SHARES).values()) == 0
    assert minimum_rows_per_class({"train": 0.8, "valid": 0.1, "eval": 0.1}) == 7


def _assign(counts, seed, order):
    splitter = StratifiedSplitter(counts, SHARES, seed)
    result = [splitter.assign(cls) for cls in order]
    splitter.check_complete()
    return result, splitter.counts()


def test_exact_counts_and_the_same_seed_gives_the_same_assignment():
    order = [0] * 950 + [1] * 50
    first, counts = _assign({0: 950, 1: 50}, 42, order)
    assert counts == {
        split: {0: split_targets(950, SHARES)[split], 1: split_targets(50, SHARES)[split]} for split in SHARES
    }
    assert _assign({0: 950, 1: 50}, 42, order)[0] == first
    assert _assign({0: 950, 1: 50}, 43, order)[0] != first


def test_positions_are_spread_uniformly():
    """Over many seeds each row of a class lands in train about 60% of the time, wherever it stands."""
    hits = collections.Counter()
    for seed in range(2000):
        for position, split in enumerate(_assign({1: 10}, seed, [1] * 10)[0]):
            hits[position] += split == "train"
    assert all(abs(hits[position] / 2000 - 0.6) < 0.05 for position in range(10))


def test_more_or_fewer_rows_than_counted_are_errors():
    splitter = StratifiedSplitter({1: 2}, SHARES, 0)
    splitter.assign(1)
    with pytest.raises(SplitCountError, match="fewer rows than counted"):
        splitter.check_complete()
    splitter.assign(1)
    with pytest.raises(SplitCountError, match="more rows of class 1 than the 2 counted"):
        splitter.assign(1)
