"""The analysis: from per-split label counts to ClassSkew's report (distributions, skew, drift, findings).

Pure: counts and parameters in, a `LabelDistributionReport` out, so every finding is tested
without files or TFX. Findings whose action is `fail` do not raise here; `raise_for_failures`
does, so the executor can log the whole report first.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from components.class_skew import measures
from components.class_skew import report as rp
from components.class_skew.counts import LabelCounts
from components.class_skew.errors import ClassSkewError, ClassSkewInputError
from components.class_skew.report import FindingKind
from components.class_skew.spec import ACTION_SETTINGS, WARN, ClassSkewParameters

_THRESHOLD_SETTINGS = (
    "imbalanced_ratio",
    "severe_ratio",
    "skew_linf_threshold",
    "skew_js_threshold",
    "drift_linf_threshold",
    "drift_js_threshold",
)
# Findings that get a summary line of their own (the split lines already say the severity).
_SUMMARY_KINDS = (FindingKind.SKEW, FindingKind.DRIFT, FindingKind.MISSING_LABELS, FindingKind.SAMPLED_STATISTICS)


def _finding(split: str, kind: FindingKind, action: str, message: str, **numbers: Any) -> rp.Finding:
    return rp.Finding(split=split, kind=kind, action=action, message=message, numbers=numbers)


def _check_splits(split_counts: Mapping[str, LabelCounts], label_key: str, parameters: ClassSkewParameters) -> None:
    """Raises ClassSkewInputError without the train/eval split, or for a class that training never sees."""
    for required in (parameters.train_split, parameters.eval_split):
        if required not in split_counts:
            raise ClassSkewInputError(
                f"the statistics have no {required!r} split (splits: {sorted(split_counts)}); set "
                "train_split/eval_split to splits that ExampleGen produces"
            )
    train_classes = {c for c, n in split_counts[parameters.train_split].class_counts.items() if n > 0}
    if len(train_classes) < 2:
        return  # A single-class or empty train split is a finding of its own.
    for name, counts in split_counts.items():
        unseen = sorted(c for c, n in counts.class_counts.items() if n > 0 and c not in train_classes)
        if unseen:
            raise ClassSkewInputError(
                f"split {name!r} has class(es) {unseen} of label {label_key!r} that never occur in "
                f"the {parameters.train_split!r} split ({ {c: counts.class_counts[c] for c in unseen} } rows); "
                "the model cannot learn them: fix the data or the split so every class occurs in training"
            )


def _split_distribution(
    counts: LabelCounts, classes: Sequence[str], parameters: ClassSkewParameters
) -> rp.SplitDistribution:
    split_shares = measures.shares(counts.class_counts, classes)
    severity, ratio = measures.severity(
        [counts.class_counts.get(c, 0) for c in classes], parameters.imbalanced_ratio, parameters.severe_ratio
    )
    present = [c for c in classes if counts.class_counts.get(c, 0) > 0]
    minority = min(present, key=lambda c: (counts.class_counts[c], c)) if present else None
    majority = max(present, key=lambda c: (counts.class_counts[c], c)) if present else None
    return rp.SplitDistribution(
        num_examples=counts.num_examples,
        labeled_count=counts.labeled_count,
        missing_label_count=counts.missing_label_count,
        sample_rate=counts.sample_rate,
        class_counts={c: int(counts.class_counts.get(c, 0)) for c in classes},
        class_shares=split_shares,
        absent_classes=tuple(c for c in classes if counts.class_counts.get(c, 0) == 0),
        minority_class=minority,
        majority_class=majority,
        minority_share=split_shares[minority] if minority is not None else None,
        imbalance_ratio=ratio,
        severity=severity,
    )


def _data_findings(name: str, split: rp.SplitDistribution, label_key: str) -> List[rp.Finding]:
    """Labels missing from rows, and counts that are estimates: the numbers are less than exact."""
    findings = []
    if split.missing_label_count:
        findings.append(
            _finding(
                name,
                FindingKind.MISSING_LABELS,
                WARN,
                f"{name}: {split.missing_label_count} of {split.num_examples} rows have no {label_key!r} label",
                missing_label_count=split.missing_label_count,
                num_examples=split.num_examples,
            )
        )
    if split.sample_rate < 1.0:
        findings.append(
            _finding(
                name,
                FindingKind.SAMPLED_STATISTICS,
                WARN,
                f"{name}: StatisticsGen sampled {100 * split.sample_rate:g}% of the rows, so the class counts "
                "are estimates, not exact (set sample_rate to 1 in StatisticsGen's stats_options for exact counts)",
                sample_rate=split.sample_rate,
            )
        )
    return findings


def _severity_findings(name: str, split: rp.SplitDistribution, parameters: ClassSkewParameters) -> List[rp.Finding]:
    """An empty, single-class, severely or moderately imbalanced split, with the action its setting names."""
    if split.severity == measures.EMPTY:
        message = f"{name}: no labelled rows ({split.num_examples} rows)"
        return [
            _finding(name, FindingKind.EMPTY_SPLIT, parameters.on_empty_split, message, num_examples=split.num_examples)
        ]
    if split.severity == measures.SINGLE_CLASS:
        action = parameters.on_single_class if name == parameters.train_split else WARN
        only = split.majority_class
        assert only is not None  # A single-class split has a majority class.
        message = (
            f"{name}: every labelled row has class {only!r} ({split.class_counts[only]} rows); classes "
            f"{list(split.absent_classes)} never occur"
        )
        return [_finding(name, FindingKind.SINGLE_CLASS_SPLIT, action, message, class_counts=split.class_counts)]
    if split.severity not in (measures.SEVERE, measures.IMBALANCED):
        return []
    severe = split.severity == measures.SEVERE
    kind, action = (
        (FindingKind.SEVERE_IMBALANCE, parameters.on_severe_imbalance) if severe else (FindingKind.IMBALANCE, rp.NOTE)
    )
    limit = parameters.severe_ratio if severe else parameters.imbalanced_ratio
    assert split.imbalance_ratio is not None and split.minority_share is not None  # Two classes or more.
    message = (
        f"{name}: majority/minority ratio {split.imbalance_ratio:.1f} >= {limit:g} (minority class "
        f"{split.minority_class!r} is {100 * split.minority_share:.2f}% of rows)"
    )
    return [
        _finding(
            name,
            kind,
            action,
            message,
            imbalance_ratio=split.imbalance_ratio,
            threshold=limit,
            minority_class=split.minority_class,
            minority_share=split.minority_share,
            class_counts=split.class_counts,
        )
    ]


def _distance_finding(
    split: str, kind: FindingKind, action: str, subject: str, distance: rp.Distance, **numbers: Any
) -> rp.Finding:
    """A skew or drift finding: both distances against their limits, in the message and in the numbers."""
    message = (
        f"{subject} L-inf {distance.linf:.4f} (limit {distance.linf_threshold:g}), "
        f"JS {distance.js:.4f} (limit {distance.js_threshold:g})"
    )
    limits = dict(linf_threshold=distance.linf_threshold, js_threshold=distance.js_threshold)
    return _finding(split, kind, action, message, linf=distance.linf, js=distance.js, **limits, **numbers)


def _distance(
    baseline: Mapping[str, float], other: Mapping[str, float], linf_threshold: float, js_threshold: float
) -> Dict[str, Any]:
    linf = measures.linf_distance(baseline, other)
    js = measures.js_divergence(baseline, other)
    over = linf > linf_threshold or js > js_threshold
    return {
        "linf": linf,
        "js": js,
        "linf_threshold": linf_threshold,
        "js_threshold": js_threshold,
        "over_threshold": over,
    }


def _skew(
    splits: Mapping[str, rp.SplitDistribution], others: Sequence[str], parameters: ClassSkewParameters
) -> Tuple[Dict[str, rp.Skew], List[rp.Finding]]:
    """Every other split with labels against the train split."""
    train_name = parameters.train_split
    train = splits[train_name]
    skew: Dict[str, rp.Skew] = {}
    findings = []
    kind, action = FindingKind.SKEW, parameters.on_skew
    for name in others:
        if train.labeled_count == 0 or splits[name].labeled_count == 0:
            continue
        linf_limit, js_limit = parameters.skew_linf_threshold, parameters.skew_js_threshold
        result = rp.Skew(
            **_distance(train.class_shares, splits[name].class_shares, linf_limit, js_limit), baseline_split=train_name
        )
        skew[name] = result
        if result.over_threshold:
            subject = f"{name} vs {train_name}: label distribution skew"
            findings.append(_distance_finding(name, kind, action, subject, result, baseline_split=train_name))
    return skew, findings


def _drift(
    split_counts: Mapping[str, LabelCounts],
    previous_counts: Mapping[str, LabelCounts],
    previous_span: Optional[int],
    classes: Sequence[str],
    order: Sequence[str],
    parameters: ClassSkewParameters,
) -> Tuple[rp.Drift, List[rp.Finding]]:
    """Each split against the same split of the previous span; raises when no split can be compared."""
    compared: Dict[str, rp.SplitDrift] = {}
    skipped: Dict[str, str] = {}
    findings = []
    all_classes = measures.sort_classes([*classes, *(c for pc in previous_counts.values() for c in pc.class_counts)])
    linf_limit, js_limit = parameters.drift_linf_threshold, parameters.drift_js_threshold
    kind, action = FindingKind.DRIFT, parameters.on_drift
    for name in order:
        if name not in previous_counts:
            skipped[name] = "not in the previous span's statistics"
            continue
        previous = previous_counts[name]
        if previous.labeled_count == 0 or split_counts[name].labeled_count == 0:
            skipped[name] = "no labelled rows in one of the spans"
            continue
        before = measures.shares(previous.class_counts, all_classes)
        now = measures.shares(split_counts[name].class_counts, all_classes)
        result = rp.SplitDrift(
            **_distance(before, now, linf_limit, js_limit),
            previous_class_counts={c: int(previous.class_counts.get(c, 0)) for c in all_classes},
        )
        compared[name] = result
        if result.over_threshold:
            subject = f"{name}: label distribution drift since span {previous_span}"
            findings.append(_distance_finding(name, kind, action, subject, result, previous_span=previous_span))
    if not compared:
        raise ClassSkewInputError(
            f"previous_statistics (span {previous_span}) share no comparable split with the current "
            f"statistics (previous: {sorted(previous_counts)}, current: {sorted(split_counts)}): "
            f"{skipped}; pass the ExampleStatistics of the previous span"
        )
    return rp.Drift(previous_span=previous_span, splits=compared, skipped_splits=skipped), findings


def _positive_class(
    classes: Sequence[str], train_counts: Mapping[str, int], label_key: str, parameters: ClassSkewParameters
) -> Optional[str]:
    """The class of interest of a binary label; None for other labels (where positive_class must be unset)."""
    binary = len(classes) == 2
    positive = measures.pick_positive_class(classes, train_counts, parameters.positive_class) if binary else None
    if parameters.positive_class is not None and not binary:
        raise ClassSkewInputError(
            f"positive_class={parameters.positive_class!r} needs a binary label; {label_key!r} has classes {classes}"
        )
    return positive


def split_line(name: str, split: rp.SplitDistribution, positive_class: Optional[str]) -> str:
    """One line per split, e.g. `train: 0.17% positive (1:577, severe)`."""
    if split.severity == measures.EMPTY:
        return f"{name}: no labelled rows ({split.num_examples} rows, empty)"
    if positive_class is not None:
        text = f"{100 * split.class_shares[positive_class]:.2f}% positive"
    else:
        text = ", ".join(f"{c} {100 * s:.2f}%" for c, s in split.class_shares.items())
    return f"{name}: {text} ({measures.ratio_text(split.imbalance_ratio)}, {split.severity})"


def summary_lines(
    order: Sequence[str],
    splits: Mapping[str, rp.SplitDistribution],
    positive_class: Optional[str],
    findings: Sequence[rp.Finding],
) -> Tuple[str, ...]:
    """Short human-readable lines: one per split (train first), then one per skew/drift/data finding."""
    lines = [split_line(name, splits[name], positive_class) for name in order]
    lines += [f"{finding.message} [{finding.action}]" for finding in findings if finding.kind in _SUMMARY_KINDS]
    return tuple(lines)


def analyze(
    split_counts: Mapping[str, LabelCounts],
    label_key: str,
    parameters: ClassSkewParameters,
    schema_classes: Sequence[str] = (),
    previous_counts: Optional[Mapping[str, LabelCounts]] = None,
    previous_span: Optional[int] = None,
    span: Optional[int] = None,
) -> rp.LabelDistributionReport:
    """The whole report from per-split label counts (and the previous span's, for drift).

    Raises ClassSkewInputError for inconsistent input (missing train/eval split, a class in
    another split that train never has, no split to compare with the previous span).
    """
    _check_splits(split_counts, label_key, parameters)
    classes = measures.sort_classes(
        [*schema_classes, *(c for counts in split_counts.values() for c in counts.class_counts)]
    )
    splits = {name: _split_distribution(split_counts[name], classes, parameters) for name in sorted(split_counts)}
    # Train first so the findings and the summary lead with it.
    order = [parameters.train_split] + [name for name in sorted(splits) if name != parameters.train_split]
    findings: List[rp.Finding] = []
    for name in order:
        findings += _data_findings(name, splits[name], label_key)
        findings += _severity_findings(name, splits[name], parameters)
    skew, skew_findings = _skew(splits, order[1:], parameters)
    findings += skew_findings
    drift = None
    if previous_counts is not None:
        drift, drift_findings = _drift(split_counts, previous_counts, previous_span, classes, order, parameters)
        findings += drift_findings
    train_counts = splits[parameters.train_split].class_counts
    positive = _positive_class(classes, train_counts, label_key, parameters)
    return rp.LabelDistributionReport(
        label_key=label_key,
        train_split=parameters.train_split,
        eval_split=parameters.eval_split,
        span=span,
        classes=tuple(classes),
        positive_class=positive,
        splits=splits,
        skew=skew,
        drift=drift,
        class_weights=measures.balanced_class_weights(train_counts, classes),
        initial_bias=measures.initial_bias(train_counts, positive) if positive is not None else None,
        thresholds={name: getattr(parameters, name) for name in _THRESHOLD_SETTINGS},
        actions={name: getattr(parameters, name) for name in ACTION_SETTINGS},
        findings=tuple(findings),
        summary=summary_lines(order, splits, positive, findings),
    )


def raise_for_failures(report: rp.LabelDistributionReport) -> None:
    """Raises ClassSkewError naming every finding whose action is `fail`."""
    failed = report.failures()
    if failed:
        details = "; ".join(f"[{f.kind}] {f.message}" for f in failed)
        raise ClassSkewError(
            f"ClassSkew stopped the pipeline on {len(failed)} finding(s) of label {report.label_key!r}: {details}. "
            "Fix the data, or set the matching on_* action to 'warn' to go on"
        )
