"""Member recipes and the settings of the AUC loss and mixed ensembles: parsing, exact draws, refusals."""

import numpy as np
import pytest

from components.common.parameters import ParameterError
from components.trainer.member_recipes import Recipe, copies_per_row, parse_recipe
from components.trainer.spec import TrainerParameters

# 40 positives among 1000 rows, spread through the split.
POSITIVE = np.zeros(1000, dtype=bool)
POSITIVE[::25] = True


def test_recipes_parse_from_the_command_line_as_a_tuple():
    # What `--set trainer.ensemble_recipes=...` does: the field's type (Tuple[str, ...]) splits at commas.
    value = TrainerParameters.parse_field("ensemble_recipes", "none,oversample:0.1,undersample:1.0")
    assert value == ("none", "oversample:0.1", "undersample:1.0")
    parameters = TrainerParameters(ensemble_recipes=value, ensemble_combine="vote")
    assert parameters.ensemble_recipes == value
    assert TrainerParameters.from_json_dict(parameters.to_json_dict()) == parameters
    assert [str(parse_recipe(text)) for text in value] == ["none", "oversample:0.1", "undersample:1.0"]
    assert parse_recipe(" Bagging:0.25 ") == Recipe("bagging", 0.25)


@pytest.mark.parametrize(
    "text,reason",
    [
        ("smote:0.1", "unknown kind 'smote'"),
        ("oversample", "oversample needs a number"),
        ("none:1", "none takes no number"),
        ("undersample:two", "'two' is not a number"),
        ("bagging:0", "0.0 is not in \\(0, 1\\]"),
        ("oversample:1.5", "1.5 is not in \\(0, 1\\]"),
    ],
)
def test_a_bad_recipe_is_one_line_naming_it(text, reason):
    with pytest.raises(ParameterError, match=f"bad recipe '{text}': {reason}") as raised:
        TrainerParameters(ensemble_recipes=("none", text))
    assert "\n" not in str(raised.value)


def test_oversample_adds_positives_with_replacement_exactly_and_seeded():
    counts = copies_per_row(Recipe("oversample", 0.5), POSITIVE, seed=42, member=1)
    assert counts[~POSITIVE].tolist() == [1] * 960, "negatives once each"
    assert counts[POSITIVE].sum() == 480 and counts[POSITIVE].min() >= 1, "positives/negatives = 0.5, every original"
    assert counts[POSITIVE].max() > counts[POSITIVE].min() + 1, "drawn with replacement, not evenly"
    assert np.array_equal(counts, copies_per_row(Recipe("oversample", 0.5), POSITIVE, seed=42, member=1))
    assert not np.array_equal(counts, copies_per_row(Recipe("oversample", 0.5), POSITIVE, seed=42, member=2))
    # Already at or above the ratio: the view is the data.
    assert copies_per_row(Recipe("oversample", 0.01), POSITIVE, 42, 0).tolist() == [1] * 1000


def test_undersample_keeps_every_positive_and_an_exact_sample_of_negatives():
    counts = copies_per_row(Recipe("undersample", 0.5), POSITIVE, seed=7, member=0)
    assert counts[POSITIVE].tolist() == [1] * 40
    assert set(counts[~POSITIVE].tolist()) == {0, 1} and counts[~POSITIVE].sum() == 80
    other_seed = copies_per_row(Recipe("undersample", 0.5), POSITIVE, seed=8, member=0)
    assert not np.array_equal(counts, other_seed)
    assert copies_per_row(Recipe("undersample", 0.01), POSITIVE, 7, 0).tolist() == [1] * 1000, "4000 > 960 negatives"


def test_recipes_without_counts_and_data_without_a_class():
    assert copies_per_row(Recipe("none"), POSITIVE, 1, 0) is None
    assert copies_per_row(Recipe("bagging", 0.1), POSITIVE, 1, 0) is None
    with pytest.raises(ParameterError, match="needs positive and negative rows"):
        copies_per_row(Recipe("undersample", 1.0), np.zeros(5, bool), 1, 0)


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"loss": "auc"}, "trainer.loss=auc learns from positive-negative pairs within a batch"),
        ({"ensemble_combine": "vote"}, "ensemble_combine=vote combines the members of trainer.ensemble_recipes"),
        ({"ensemble_combine": "median"}, "trainer.ensemble_combine must be one of mean, vote"),
        (
            {"ensemble_recipes": ("none",), "balanced_batches": True, "ensemble_members": 1},
            "ensemble_recipes trains one member per recipe",
        ),
        ({"ensemble_recipes": ("none",), "model": "gbt"}, "are MLP members; trainer.model=gbt"),
        ({"min_batch_positives": 1024}, r"min_batch_positives must be in \[0, trainer.batch_size=1024\)"),
        (
            {"min_batch_positives": 4, "balanced_batches": True, "ensemble_members": 1},
            "choose one",
        ),
        ({"auc_bce_weight": 1.5}, r"trainer.auc_bce_weight must be in \[0, 1\]"),
    ],
)
def test_settings_that_cannot_work_are_refused_in_one_line(settings, message):
    with pytest.raises(ParameterError, match=message) as raised:
        TrainerParameters(**settings)
    assert "\n" not in str(raised.value)


def test_the_auc_loss_is_accepted_with_guaranteed_pairs():
    assert TrainerParameters(loss="auc", min_batch_positives=8).min_batch_positives == 8
    assert TrainerParameters(loss="auc", balanced_batches=True, ensemble_members=1).balanced_batches
    assert TrainerParameters(loss="auc", model="gbt").loss == "auc", "the trees do not use the MLP's loss"
