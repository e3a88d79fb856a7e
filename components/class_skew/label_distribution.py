"""Pure functions of ClassSkew: the label's class distribution per split, and what it means.

Everything here works on protos and plain dicts (no files, no TFX artifacts), so it is
tested directly on statistics that TFDV computed. The label's per-class counts come
from the `rank_histogram` that TFDV writes for categorical features (string labels,
or int labels declared `int_domain { is_categorical: true }` in the schema): reading
them costs nothing, no pass over the data.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from pipeline.errors import UserInputError

FORMAT_VERSION = 1

# Severities of one split's label distribution.
BALANCED = "balanced"
IMBALANCED = "imbalanced"
SEVERE = "severe"
SINGLE_CLASS = "single-class"
EMPTY = "empty"

# Kinds of findings.
EMPTY_SPLIT = "empty_split"
SINGLE_CLASS_SPLIT = "single_class"
SEVERE_IMBALANCE = "severe_imbalance"
IMBALANCE = "imbalanced"
MISSING_LABELS = "missing_labels"
SAMPLED_STATISTICS = "sampled_statistics"
SKEW = "skew"
DRIFT = "drift"

WARN = "warn"
FAIL = "fail"
# Recorded and logged, never fails: a moderate imbalance is information, not a problem.
NOTE = "note"
ACTIONS = (WARN, FAIL)

# More classes than this in an int_domain range are not treated as an enumeration of classes.
_MAX_DECLARED_INT_CLASSES = 1000


class ClassSkewInputError(UserInputError):
    """The statistics or schema cannot give the label's class counts; the message says how to fix it."""


class ClassSkewError(UserInputError):
    """A finding whose configured action is `fail` (e.g. a single-class train split)."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """Thresholds and per-finding actions (mirrors `pipeline.config.ClassSkewConfig`)."""

    label_key: str = "Class"
    imbalanced_ratio: float = 3.0
    severe_ratio: float = 100.0
    skew_linf_threshold: float = 0.01
    skew_js_threshold: float = 0.01
    drift_linf_threshold: float = 0.01
    drift_js_threshold: float = 0.01
    on_single_class: str = FAIL
    on_empty_split: str = FAIL
    on_severe_imbalance: str = WARN
    on_skew: str = WARN
    on_drift: str = WARN
    train_split: str = "train"
    eval_split: str = "eval"
    # Binary labels only; None: "1" (or "true") when it is a class, else the train split's minority class.
    positive_class: Optional[str] = None

    def __post_init__(self) -> None:
        validate_settings(self)


def validate_settings(settings: Settings) -> None:
    """Raises ValueError naming the parameter when a setting is out of range."""
    problems = []
    if not settings.label_key:
        problems.append("label_key must not be empty")
    if not settings.imbalanced_ratio >= 1.0:
        problems.append(f"imbalanced_ratio must be >= 1, got {settings.imbalanced_ratio!r}")
    if not settings.severe_ratio >= settings.imbalanced_ratio:
        problems.append(
            f"severe_ratio ({settings.severe_ratio!r}) must be >= imbalanced_ratio ({settings.imbalanced_ratio!r})"
        )
    for name in ("skew_linf_threshold", "skew_js_threshold", "drift_linf_threshold", "drift_js_threshold"):
        value = getattr(settings, name)
        if not 0.0 <= value <= 1.0:
            problems.append(f"{name} must be in [0, 1], got {value!r}")
    for name in ("on_single_class", "on_empty_split", "on_severe_imbalance", "on_skew", "on_drift"):
        value = getattr(settings, name)
        if value not in ACTIONS:
            problems.append(f"{name} must be one of {', '.join(ACTIONS)}; got {value!r}")
    if not settings.train_split or not settings.eval_split:
        problems.append("train_split and eval_split must not be empty")
    elif settings.train_split == settings.eval_split:
        problems.append(f"train_split and eval_split must differ, both are {settings.train_split!r}")
    if settings.positive_class is not None and not settings.positive_class:
        problems.append("positive_class must be None or a non-empty class name")
    if problems:
        raise ClassSkewInputError("ClassSkew: " + "; ".join(problems))


@dataclasses.dataclass(frozen=True)
class LabelCounts:
    """The label's class counts in one split, read from its statistics."""

    split: str
    num_examples: int
    # Class name (as TFDV writes it: str of the int, or the decoded string) -> count.
    class_counts: Dict[str, int]
    missing_label_count: int
    # StatisticsGen's sample rate for the split: below 1 the counts are of a sample, not exact.
    sample_rate: float = 1.0

    @property
    def labeled_count(self) -> int:
        return sum(self.class_counts.values())


# ---------------------------------------------------------------------------
# Reading statistics and schema.


def _find_schema_feature(schema: schema_pb2.Schema, label_key: str) -> Optional[schema_pb2.Feature]:
    for feature in schema.feature:
        if feature.name == label_key:
            return feature
    return None


def declared_classes(schema: schema_pb2.Schema, label_key: str) -> List[str]:
    """Classes the schema enumerates for the label; checks the label will carry counts.

    Raises ClassSkewInputError when the schema lacks the label or declares it in a way
    that makes TFDV compute numeric (count-free) statistics for it.
    """
    feature = _find_schema_feature(schema, label_key)
    if feature is None:
        names = sorted(f.name for f in schema.feature)
        raise ClassSkewInputError(
            f"label {label_key!r} is not a feature of the schema (features: {names}); set label_key to the label "
            "column or add the label to the schema"
        )
    if feature.type == schema_pb2.FLOAT:
        raise ClassSkewInputError(
            f"label {label_key!r} has type FLOAT in the schema; a class label must be INT (with int_domain "
            "{ is_categorical: true }) or BYTES so the statistics record per-class counts"
        )
    if feature.type == schema_pb2.INT:
        if not (feature.HasField("int_domain") and feature.int_domain.is_categorical):
            raise ClassSkewInputError(
                f"label {label_key!r} is INT but not declared categorical in the schema, so StatisticsGen records "
                "no per-class counts; add `int_domain { is_categorical: true }` to its feature in the schema"
            )
        domain = feature.int_domain
        bounded = domain.HasField("min") and domain.HasField("max")
        if bounded and 0 <= domain.max - domain.min < _MAX_DECLARED_INT_CLASSES:
            return [str(value) for value in range(domain.min, domain.max + 1)]
        return []
    if feature.type == schema_pb2.BYTES:
        if feature.HasField("string_domain"):
            return list(feature.string_domain.value)
        if feature.HasField("domain"):
            for domain in schema.string_domain:
                if domain.name == feature.domain:
                    return list(domain.value)
        return []
    raise ClassSkewInputError(
        f"label {label_key!r} has schema type {schema_pb2.FeatureType.Name(feature.type)}; it must be INT or BYTES"
    )


def _default_dataset(
    stats: statistics_pb2.DatasetFeatureStatisticsList, source: str
) -> statistics_pb2.DatasetFeatureStatistics:
    """The unsliced dataset of a statistics list (StatisticsGen writes it first, named 'All Examples' if sliced)."""
    if not stats.datasets:
        raise ClassSkewInputError(f"{source}: the statistics hold no dataset; re-run StatisticsGen")
    if len(stats.datasets) == 1:
        return stats.datasets[0]
    for dataset in stats.datasets:
        if dataset.name in ("All Examples", ""):
            return dataset
    names = [dataset.name for dataset in stats.datasets]
    raise ClassSkewInputError(f"{source}: sliced statistics without an 'All Examples' dataset (slices: {names})")


def _feature_name(feature: statistics_pb2.FeatureNameStatistics) -> str:
    if feature.HasField("path"):
        return ".".join(feature.path.step)
    return feature.name


def label_counts(
    stats: statistics_pb2.DatasetFeatureStatisticsList, label_key: str, split: str, source: str = ""
) -> LabelCounts:
    """The label's per-class counts in one split's statistics.

    `source` names where the statistics came from (artifact URI, previous span) for error messages.
    """
    where = f"{source} split {split!r}" if source else f"split {split!r}"
    dataset = _default_dataset(stats, where)
    num_examples = int(dataset.num_examples)
    label_stats = next((f for f in dataset.features if _feature_name(f) == label_key), None)
    if num_examples == 0:
        return LabelCounts(split=split, num_examples=0, class_counts={}, missing_label_count=0)
    if label_stats is None:
        names = sorted(_feature_name(f) for f in dataset.features)
        raise ClassSkewInputError(
            f"{where}: label {label_key!r} is not in the statistics (features: {names}); check label_key and "
            "that ExampleGen reads the label column"
        )
    if label_stats.WhichOneof("stats") != "string_stats":
        kind = label_stats.WhichOneof("stats")
        raise ClassSkewInputError(
            f"{where}: the statistics of label {label_key!r} have no per-class counts (TFDV computed {kind}); "
            "declare the label categorical in the schema (`int_domain { is_categorical: true }` for an INT "
            "label) and pass that schema to StatisticsGen"
        )
    string_stats = label_stats.string_stats
    counts: Dict[str, int] = {}
    for bucket in string_stats.rank_histogram.buckets:
        counts[bucket.label] = counts.get(bucket.label, 0) + int(round(bucket.sample_count))
    if string_stats.unique > len(counts):
        raise ClassSkewInputError(
            f"{where}: label {label_key!r} has {string_stats.unique} distinct values but the statistics hold "
            f"counts for only {len(counts)}; raise StatsOptions.num_rank_histogram_buckets (and keep "
            "frequency_threshold at 1) in StatisticsGen's stats_options"
        )
    common = string_stats.common_stats
    total_values = int(common.tot_num_values)
    if total_values and sum(counts.values()) != total_values:
        raise ClassSkewInputError(
            f"{where}: the class counts of label {label_key!r} sum to {sum(counts.values())} but the statistics "
            f"count {total_values} label values; the statistics were sampled or filtered (check StatsOptions "
            "sample_rate / frequency_threshold)"
        )
    if common.max_num_values > 1:
        raise ClassSkewInputError(
            f"{where}: label {label_key!r} has up to {common.max_num_values} values per example; a class label "
            "must be single-valued"
        )
    missing = int(common.num_missing) if common.num_missing else max(num_examples - int(common.num_non_missing), 0)
    return LabelCounts(split=split, num_examples=num_examples, class_counts=counts, missing_label_count=missing)


# ---------------------------------------------------------------------------
# Numbers.


def sort_classes(classes: Iterable[str]) -> List[str]:
    """Numeric order when every class is an int ("2" before "10"), else string order."""
    unique = set(classes)
    try:
        return sorted(unique, key=int)
    except ValueError:
        return sorted(unique)


def shares(counts: Mapping[str, int], classes: Sequence[str]) -> Dict[str, float]:
    total = sum(counts.get(c, 0) for c in classes)
    if total == 0:
        return {c: 0.0 for c in classes}
    return {c: counts.get(c, 0) / total for c in classes}


def linf_distance(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Largest absolute difference of class shares (TFDV's categorical skew measure)."""
    keys = set(p) | set(q)
    return max((abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in keys), default=0.0)


def js_divergence(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Jensen-Shannon divergence in bits (log base 2), so it lies in [0, 1] like the thresholds."""
    keys = set(p) | set(q)
    divergence = 0.0
    for k in keys:
        pk, qk = p.get(k, 0.0), q.get(k, 0.0)
        mk = (pk + qk) / 2.0
        if pk > 0:
            divergence += 0.5 * pk * math.log2(pk / mk)
        if qk > 0:
            divergence += 0.5 * qk * math.log2(qk / mk)
    return max(0.0, min(1.0, divergence))


def severity(
    present_counts: Sequence[int], imbalanced_ratio: float, severe_ratio: float
) -> Tuple[str, Optional[float]]:
    """Severity and majority/minority ratio over the classes that occur (ratio None below two classes)."""
    present = [count for count in present_counts if count > 0]
    if not present:
        return EMPTY, None
    if len(present) == 1:
        return SINGLE_CLASS, None
    ratio = max(present) / min(present)
    if ratio >= severe_ratio:
        return SEVERE, ratio
    if ratio >= imbalanced_ratio:
        return IMBALANCED, ratio
    return BALANCED, ratio


def balanced_class_weights(counts: Mapping[str, int], classes: Sequence[str]) -> Dict[str, Optional[float]]:
    """`n / (k * count_c)` over the k classes that occur (sklearn's 'balanced'); None for absent classes."""
    present = [c for c in classes if counts.get(c, 0) > 0]
    total = sum(counts.get(c, 0) for c in present)
    return {c: (total / (len(present) * counts[c]) if c in present else None) for c in classes}


def pick_positive_class(classes: Sequence[str], train_counts: Mapping[str, int], requested: Optional[str]) -> str:
    if requested is not None:
        if requested not in classes:
            raise ClassSkewInputError(f"positive_class {requested!r} is not a class of the label (classes: {classes})")
        return requested
    for candidate in ("1", "true", "True"):
        if candidate in classes:
            return candidate
    # The rarer class is the one of interest; ties go to the later class name.
    return min(reversed(list(classes)), key=lambda c: train_counts.get(c, 0))


def _ratio_text(ratio: Optional[float]) -> str:
    if ratio is None:
        return "-"
    return f"1:{ratio:.0f}" if ratio >= 10 else f"1:{ratio:.1f}"


# ---------------------------------------------------------------------------
# The analysis.


def _finding(split: str, kind: str, action: str, message: str, **numbers: Any) -> Dict[str, Any]:
    return {"split": split, "kind": kind, "action": action, "message": message, "numbers": numbers}


def _split_report(counts: LabelCounts, classes: Sequence[str], settings: Settings) -> Dict[str, Any]:
    split_shares = shares(counts.class_counts, classes)
    class_counts = [counts.class_counts.get(c, 0) for c in classes]
    sev, ratio = severity(class_counts, settings.imbalanced_ratio, settings.severe_ratio)
    present = [c for c in classes if counts.class_counts.get(c, 0) > 0]
    minority = min(present, key=lambda c: (counts.class_counts[c], c)) if present else None
    majority = max(present, key=lambda c: (counts.class_counts[c], c)) if present else None
    return {
        "num_examples": counts.num_examples,
        "labeled_count": counts.labeled_count,
        "missing_label_count": counts.missing_label_count,
        "sample_rate": counts.sample_rate,
        "class_counts": {c: int(counts.class_counts.get(c, 0)) for c in classes},
        "class_shares": split_shares,
        "absent_classes": [c for c in classes if counts.class_counts.get(c, 0) == 0],
        "minority_class": minority,
        "majority_class": majority,
        "minority_share": split_shares[minority] if minority is not None else None,
        "imbalance_ratio": ratio,
        "severity": sev,
    }


def _split_findings(split: str, report: Mapping[str, Any], settings: Settings) -> List[Dict[str, Any]]:
    findings = []
    sev = report["severity"]
    counts = report["class_counts"]
    if report["missing_label_count"]:
        findings.append(
            _finding(
                split,
                MISSING_LABELS,
                WARN,
                f"{split}: {report['missing_label_count']} of {report['num_examples']} rows have no "
                f"{settings.label_key!r} label",
                missing_label_count=report["missing_label_count"],
                num_examples=report["num_examples"],
            )
        )
    if report["sample_rate"] < 1.0:
        findings.append(
            _finding(
                split,
                SAMPLED_STATISTICS,
                WARN,
                f"{split}: StatisticsGen sampled {100 * report['sample_rate']:g}% of the rows, so the class counts "
                "are estimates, not exact (set sample_rate to 1 in StatisticsGen's stats_options for exact counts)",
                sample_rate=report["sample_rate"],
            )
        )
    if sev == EMPTY:
        findings.append(
            _finding(
                split,
                EMPTY_SPLIT,
                settings.on_empty_split,
                f"{split}: no labelled rows ({report['num_examples']} rows)",
                num_examples=report["num_examples"],
            )
        )
    elif sev == SINGLE_CLASS:
        action = settings.on_single_class if split == settings.train_split else WARN
        only = report["majority_class"]
        findings.append(
            _finding(
                split,
                SINGLE_CLASS_SPLIT,
                action,
                f"{split}: every labelled row has class {only!r} ({counts[only]} rows); classes "
                f"{report['absent_classes']} never occur",
                class_counts=counts,
            )
        )
    elif sev in (SEVERE, IMBALANCED):
        kind, action = (SEVERE_IMBALANCE, settings.on_severe_imbalance) if sev == SEVERE else (IMBALANCE, NOTE)
        limit = settings.severe_ratio if sev == SEVERE else settings.imbalanced_ratio
        findings.append(
            _finding(
                split,
                kind,
                action,
                f"{split}: majority/minority ratio {report['imbalance_ratio']:.1f} >= {limit:g} (minority class "
                f"{report['minority_class']!r} is {100 * report['minority_share']:.2f}% of rows)",
                imbalance_ratio=report["imbalance_ratio"],
                threshold=limit,
                minority_class=report["minority_class"],
                minority_share=report["minority_share"],
                class_counts=counts,
            )
        )
    return findings


def _distance_report(
    baseline: Mapping[str, Any], other: Mapping[str, Any], linf_threshold: float, js_threshold: float
) -> Dict[str, Any]:
    linf = linf_distance(baseline["class_shares"], other["class_shares"])
    js = js_divergence(baseline["class_shares"], other["class_shares"])
    return {
        "linf": linf,
        "js": js,
        "linf_threshold": linf_threshold,
        "js_threshold": js_threshold,
        "over_threshold": linf > linf_threshold or js > js_threshold,
    }


def analyze(
    split_counts: Mapping[str, LabelCounts],
    settings: Settings,
    schema_classes: Sequence[str] = (),
    previous_counts: Optional[Mapping[str, LabelCounts]] = None,
    previous_span: Optional[int] = None,
    span: Optional[int] = None,
) -> Dict[str, Any]:
    """The whole report (see `report.load_report` for its keys) from per-split label counts.

    Raises ClassSkewInputError for inconsistent input (missing train/eval split, a class in
    another split that train never has). Findings with action `fail` do NOT raise here:
    `raise_for_failures` does, so the caller can log the full report first.
    """
    for required in (settings.train_split, settings.eval_split):
        if required not in split_counts:
            raise ClassSkewInputError(
                f"the statistics have no {required!r} split (splits: {sorted(split_counts)}); set "
                "train_split/eval_split to splits that ExampleGen produces"
            )
    seen = [c for counts in split_counts.values() for c in counts.class_counts]
    classes = sort_classes([*schema_classes, *seen])
    train = split_counts[settings.train_split]
    train_classes = {c for c, n in train.class_counts.items() if n > 0}
    if len(train_classes) >= 2:
        for name, counts in split_counts.items():
            unseen = sorted(c for c, n in counts.class_counts.items() if n > 0 and c not in train_classes)
            if unseen:
                raise ClassSkewInputError(
                    f"split {name!r} has class(es) {unseen} of label {settings.label_key!r} that never occur in "
                    f"the {settings.train_split!r} split ({ {c: counts.class_counts[c] for c in unseen} } rows); "
                    "the model cannot learn them: fix the data or the split so every class occurs in training"
                )

    splits = {name: _split_report(split_counts[name], classes, settings) for name in sorted(split_counts)}
    findings: List[Dict[str, Any]] = []
    # Train first so the summary leads with it.
    order = [settings.train_split] + [name for name in sorted(splits) if name != settings.train_split]
    for name in order:
        findings.extend(_split_findings(name, splits[name], settings))

    skew: Dict[str, Any] = {}
    train_report = splits[settings.train_split]
    for name in order[1:]:
        if train_report["labeled_count"] == 0 or splits[name]["labeled_count"] == 0:
            continue
        result = _distance_report(train_report, splits[name], settings.skew_linf_threshold, settings.skew_js_threshold)
        result["baseline_split"] = settings.train_split
        skew[name] = result
        if result["over_threshold"]:
            findings.append(
                _finding(
                    name,
                    SKEW,
                    settings.on_skew,
                    f"{name} vs {settings.train_split}: label distribution skew L-inf {result['linf']:.4f} "
                    f"(limit {settings.skew_linf_threshold:g}), JS {result['js']:.4f} "
                    f"(limit {settings.skew_js_threshold:g})",
                    linf=result["linf"],
                    js=result["js"],
                    linf_threshold=settings.skew_linf_threshold,
                    js_threshold=settings.skew_js_threshold,
                    baseline_split=settings.train_split,
                )
            )

    drift: Optional[Dict[str, Any]] = None
    if previous_counts is not None:
        drift = {"previous_span": previous_span, "splits": {}, "skipped_splits": {}}
        all_classes = sort_classes([*classes, *(c for pc in previous_counts.values() for c in pc.class_counts)])
        for name in order:
            if name not in previous_counts:
                drift["skipped_splits"][name] = "not in the previous span's statistics"
                continue
            previous = previous_counts[name]
            if previous.labeled_count == 0 or split_counts[name].labeled_count == 0:
                drift["skipped_splits"][name] = "no labelled rows in one of the spans"
                continue
            result = _distance_report(
                {"class_shares": shares(previous.class_counts, all_classes)},
                {"class_shares": shares(split_counts[name].class_counts, all_classes)},
                settings.drift_linf_threshold,
                settings.drift_js_threshold,
            )
            result["previous_class_counts"] = {c: int(previous.class_counts.get(c, 0)) for c in all_classes}
            drift["splits"][name] = result
            if result["over_threshold"]:
                findings.append(
                    _finding(
                        name,
                        DRIFT,
                        settings.on_drift,
                        f"{name}: label distribution drift since span {previous_span} L-inf {result['linf']:.4f} "
                        f"(limit {settings.drift_linf_threshold:g}), JS {result['js']:.4f} "
                        f"(limit {settings.drift_js_threshold:g})",
                        linf=result["linf"],
                        js=result["js"],
                        linf_threshold=settings.drift_linf_threshold,
                        js_threshold=settings.drift_js_threshold,
                        previous_span=previous_span,
                    )
                )
        if not drift["splits"]:
            raise ClassSkewInputError(
                f"previous_statistics (span {previous_span}) share no comparable split with the current "
                f"statistics (previous: {sorted(previous_counts)}, current: {sorted(split_counts)}): "
                f"{drift['skipped_splits']}; pass the ExampleStatistics of the previous span"
            )

    train_counts = train_report["class_counts"]
    binary = len(classes) == 2
    positive = pick_positive_class(classes, train_counts, settings.positive_class) if binary else None
    if settings.positive_class is not None and not binary:
        raise ClassSkewInputError(
            f"positive_class={settings.positive_class!r} needs a binary label; "
            f"{settings.label_key!r} has classes {classes}"
        )
    initial_bias = None
    if positive is not None:
        pos = train_counts[positive]
        neg = sum(n for c, n in train_counts.items() if c != positive)
        if pos > 0 and neg > 0:
            initial_bias = math.log(pos / neg)

    report = {
        "format_version": FORMAT_VERSION,
        "label_key": settings.label_key,
        "train_split": settings.train_split,
        "eval_split": settings.eval_split,
        "span": span,
        "classes": classes,
        "positive_class": positive,
        "splits": splits,
        "skew": skew,
        "drift": drift,
        "class_weights": balanced_class_weights(train_counts, classes),
        "initial_bias": initial_bias,
        "thresholds": {
            "imbalanced_ratio": settings.imbalanced_ratio,
            "severe_ratio": settings.severe_ratio,
            "skew_linf_threshold": settings.skew_linf_threshold,
            "skew_js_threshold": settings.skew_js_threshold,
            "drift_linf_threshold": settings.drift_linf_threshold,
            "drift_js_threshold": settings.drift_js_threshold,
        },
        "actions": {
            name: getattr(settings, name)
            for name in ("on_single_class", "on_empty_split", "on_severe_imbalance", "on_skew", "on_drift")
        },
        "findings": findings,
    }
    report["summary"] = summary_lines(report)
    return report


def split_line(name: str, split: Mapping[str, Any], positive_class: Optional[str]) -> str:
    """One line per split, e.g. `train: 0.17% positive (1:577, severe)`."""
    sev = split["severity"]
    if sev == EMPTY:
        return f"{name}: no labelled rows ({split['num_examples']} rows, empty)"
    if positive_class is not None:
        text = f"{100 * split['class_shares'][positive_class]:.2f}% positive"
    else:
        text = ", ".join(f"{c} {100 * s:.2f}%" for c, s in split["class_shares"].items())
    return f"{name}: {text} ({_ratio_text(split['imbalance_ratio'])}, {sev})"


def summary_lines(report: Mapping[str, Any]) -> List[str]:
    """Short human-readable lines: one per split, then one per skew/drift finding."""
    train = report["train_split"]
    names = [train] + [n for n in report["splits"] if n != train]
    lines = [split_line(n, report["splits"][n], report["positive_class"]) for n in names]
    for finding in report["findings"]:
        if finding["kind"] in (SKEW, DRIFT, MISSING_LABELS, SAMPLED_STATISTICS):
            lines.append(f"{finding['message']} [{finding['action']}]")
    return lines


def hyperparameters(report: Mapping[str, Any]) -> Dict[str, Any]:
    """What the Trainer's run_fn gets as `fn_args.hyperparameters` (train split counts)."""
    train = report["splits"][report["train_split"]]
    return {
        "label_key": report["label_key"],
        "classes": list(report["classes"]),
        "class_counts": dict(train["class_counts"]),
        "class_weights": dict(report["class_weights"]),
        "initial_bias": report["initial_bias"],
        "positive_class": report["positive_class"],
    }


def failures(report: Mapping[str, Any]) -> List[Mapping[str, Any]]:
    return [f for f in report["findings"] if f["action"] == FAIL]


def raise_for_failures(report: Mapping[str, Any]) -> None:
    """Raises ClassSkewError naming every finding whose action is `fail`."""
    failed = failures(report)
    if failed:
        details = "; ".join(f"[{f['kind']}] {f['message']}" for f in failed)
        raise ClassSkewError(
            f"ClassSkew stopped the pipeline on {len(failed)} finding(s) of label {report['label_key']!r}: {details}. "
            "Fix the data, or set the matching on_* action to 'warn' to go on"
        )
