"""ClassSkew's report as a typed, frozen value, and its one way to and from an artifact's files.

`LabelDistributionReport.load(uri)` is how every reader (the executor's tests, Rebalance, the
run summary) gets it back; `save(uri)` writes `class_skew.json` (everything) and
`summary.txt` (its summary lines), each atomically. The JSON keeps the field names below,
strict (no NaN) and with sorted keys, so equal reports are equal files.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

from tfx.dsl.io import fileio

from components.class_skew.errors import ClassSkewInputError
from components.class_skew.spec import FAIL
from components.common.artifact_io import write_artifact_files

REPORT_FILE_NAME = "class_skew.json"
SUMMARY_FILE_NAME = "summary.txt"
HYPERPARAMETERS_FILE_NAME = "hyperparameters.json"
FORMAT_VERSION = 1


class FindingKind(str, enum.Enum):
    """What a finding is about. A str, so class_skew.json stores the value (`"skew"`) as it always has."""

    EMPTY_SPLIT = "empty_split"
    SINGLE_CLASS_SPLIT = "single_class"
    SEVERE_IMBALANCE = "severe_imbalance"
    IMBALANCE = "imbalanced"
    MISSING_LABELS = "missing_labels"
    SAMPLED_STATISTICS = "sampled_statistics"
    SKEW = "skew"
    DRIFT = "drift"

    def __str__(self) -> str:
        """The value, as in the JSON: log lines and messages say `skew`, not `FindingKind.SKEW`."""
        return self.value


# A finding's action besides the settings' warn and fail: recorded and logged, never fails
# (a moderate imbalance is information, not a problem).
NOTE = "note"


@dataclasses.dataclass(frozen=True)
class SplitDistribution:
    """The label's class distribution in one split."""

    num_examples: int
    labeled_count: int
    missing_label_count: int
    # StatisticsGen's sample rate; 1.0 means the counts are exact.
    sample_rate: float
    # Every class of the report, 0 for the absent ones.
    class_counts: Dict[str, int]
    class_shares: Dict[str, float]
    absent_classes: Tuple[str, ...]
    minority_class: Optional[str]
    majority_class: Optional[str]
    minority_share: Optional[float]
    # Majority/minority count; None below two classes.
    imbalance_ratio: Optional[float]
    # balanced, imbalanced, severe, single-class or empty.
    severity: str


@dataclasses.dataclass(frozen=True)
class Distance:
    """How far two label distributions are apart, and whether that is over the limits."""

    linf: float
    # Jensen-Shannon divergence in bits.
    js: float
    linf_threshold: float
    js_threshold: float
    over_threshold: bool


@dataclasses.dataclass(frozen=True)
class Skew(Distance):
    """A split against the train split."""

    baseline_split: str


@dataclasses.dataclass(frozen=True)
class SplitDrift(Distance):
    """A split against the same split of the previous span."""

    previous_class_counts: Dict[str, int]


@dataclasses.dataclass(frozen=True)
class Drift:
    """The label distribution against the previous span's, split by split."""

    previous_span: Optional[int]
    splits: Dict[str, SplitDrift]
    # Splits not compared, and why.
    skipped_splits: Dict[str, str]


@dataclasses.dataclass(frozen=True)
class Finding:
    """Something the report says about a split, and what it does (warn, fail or note)."""

    split: str
    kind: FindingKind
    action: str
    message: str
    numbers: Dict[str, Any]


@dataclasses.dataclass(frozen=True)
class LabelDistributionReport:
    """Everything ClassSkew found: per-split distributions, skew, drift, findings and the Trainer's hints."""

    label_key: str
    train_split: str
    eval_split: str
    # The span of the current data (0 when ExampleGen had no {SPAN} pattern).
    span: Optional[int]
    # Every class name, ints in numeric order (declared by the schema or seen in any split).
    classes: Tuple[str, ...]
    # Binary labels only.
    positive_class: Optional[str]
    splits: Dict[str, SplitDistribution]
    # Every split with labels other than the train split.
    skew: Dict[str, Skew]
    # None without previous statistics.
    drift: Optional[Drift]
    # n / (k * count) on the train split; None for classes absent from it.
    class_weights: Dict[str, Optional[float]]
    # log(pos / neg) on the train split for binary labels with both classes.
    initial_bias: Optional[float]
    # The settings the report was made with.
    thresholds: Dict[str, float]
    actions: Dict[str, str]
    findings: Tuple[Finding, ...]
    # The lines of summary.txt.
    summary: Tuple[str, ...]
    format_version: int = FORMAT_VERSION

    def failures(self) -> List[Finding]:
        return [finding for finding in self.findings if finding.action == FAIL]

    def hyperparameters(self) -> Dict[str, Any]:
        """What the Trainer's run_fn gets as `fn_args.hyperparameters` (train split counts)."""
        return {
            "label_key": self.label_key,
            "classes": list(self.classes),
            "class_counts": dict(self.splits[self.train_split].class_counts),
            "class_weights": dict(self.class_weights),
            "initial_bias": self.initial_bias,
            "positive_class": self.positive_class,
        }

    def to_json_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> LabelDistributionReport:
        """The inverse of `to_json_dict`; a missing or unknown key is a TypeError or KeyError."""
        drift = data["drift"]
        return cls(
            **{
                **data,
                "classes": tuple(data["classes"]),
                "splits": {
                    name: SplitDistribution(**{**split, "absent_classes": tuple(split["absent_classes"])})
                    for name, split in data["splits"].items()
                },
                "skew": {name: Skew(**skew) for name, skew in data["skew"].items()},
                "drift": None
                if drift is None
                else Drift(
                    previous_span=drift["previous_span"],
                    splits={name: SplitDrift(**split) for name, split in drift["splits"].items()},
                    skipped_splits=dict(drift["skipped_splits"]),
                ),
                "findings": tuple(
                    Finding(**{**finding, "kind": FindingKind(finding["kind"])}) for finding in data["findings"]
                ),
                "summary": tuple(data["summary"]),
            }
        )

    def save(self, uri: str) -> None:
        """Writes class_skew.json and summary.txt into the artifact folder `uri`, each atomically."""
        write_artifact_files(
            uri, {REPORT_FILE_NAME: to_json(self.to_json_dict()), SUMMARY_FILE_NAME: "\n".join(self.summary) + "\n"}
        )

    @classmethod
    def load(cls, uri: str) -> LabelDistributionReport:
        """Reads class_skew.json from the folder of a ClassSkewReport artifact.

        Raises ClassSkewInputError when the file is absent, not JSON, or not a report of this format.
        """
        path = os.path.join(uri, REPORT_FILE_NAME)
        if not fileio.exists(path):
            raise ClassSkewInputError(f"no {REPORT_FILE_NAME} in {uri!r}: pass the class_skew output of ClassSkew")
        with fileio.open(path, "r") as handle:
            text = handle.read()
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ClassSkewInputError(f"{path} is not valid JSON ({error}); re-run ClassSkew") from error
        if not isinstance(data, dict) or "splits" not in data:
            raise ClassSkewInputError(f"{path} is not a ClassSkew report (no 'splits' key); re-run ClassSkew")
        if data.get("format_version") != FORMAT_VERSION:
            raise ClassSkewInputError(
                f"{path} has format_version {data.get('format_version')!r}, this code reads {FORMAT_VERSION}; "
                "re-run ClassSkew"
            )
        try:
            return cls.from_json_dict(data)
        except (KeyError, TypeError, AttributeError, ValueError) as error:  # ValueError: an unknown finding kind
            raise ClassSkewInputError(
                f"{path} is not a complete ClassSkew report ({error!r}); re-run ClassSkew"
            ) from error


def to_json(data: Mapping[str, Any]) -> str:
    """Strict JSON (no NaN/Infinity), keys in a stable order, so equal values are equal files."""
    return json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"
