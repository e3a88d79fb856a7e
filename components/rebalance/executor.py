"""Rebalance executor: reads artifacts, plans per class, runs the Beam job, moves the result into place.

Order of work, so that nothing partial is ever visible:
1. class counts: from the ClassSkew report if given, else one Beam counting pass;
2. the plan per split (`plan.plan_split`): every bad-input case raises here, before any write;
3. one Beam job writes the rebalanced splits into `<uri>/.rebalance-tmp-<id>/Split-<name>`,
   other splits are copied file by file into the same temp directory;
4. the job's counters are checked against the plan (and problems found in records raise);
5. only then are the `Split-*` directories renamed into `<uri>` and `rebalance_summary.json`
   written. The temp directory is removed whatever happens.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any, Dict, List, Mapping

import apache_beam as beam
from absl import logging
from apache_beam.metrics.metric import MetricsFilter
from tfx import types
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils

from components.common.artifact_io import write_text_atomically
from components.rebalance import sampling, smote
from components.rebalance.plan import (
    DEFAULT_CUT_LIMITS,
    CutLimits,
    RebalanceError,
    RebalanceInputError,
    RebalanceParameters,
    SplitPlan,
    describe,
    plan_split,
    unchanged_plan,
)

# Keys repeated from component.py (which imports this module).
EXAMPLES_KEY = "examples"
CLASS_SKEW_KEY = "class_skew"
REBALANCED_EXAMPLES_KEY = "rebalanced_examples"

CLASS_SKEW_FILE_NAME = "class_skew.json"
SUMMARY_FILE_NAME = "rebalance_summary.json"
TEMP_DIR_PREFIX = ".rebalance-tmp-"
OUTPUT_FILE_PREFIX = "data_tfrecord"
# Records chosen by the cuts, and SMOTE's synthetic records, go to files of their own (no Flatten).
EXTRA_FILE_PREFIX = "data_tfrecord-extra"
SMOTE_FILE_PREFIX = "data_tfrecord-smote"
SUPPORTED_FILE_FORMAT = "tfrecords_gzip"


class RebalanceInternalError(RebalanceError):
    """The Beam job wrote other counts than planned: a bug or a runner that drops or repeats records."""


class CandidateShortfallError(RebalanceInternalError):
    """A single-pass cut saw fewer candidates than it needs (an 8-sigma event); redone in two passes."""


def split_dir_name(split: str) -> str:
    return f"Split-{split}"


def read_class_skew_counts(report_uri: str, label_key: str) -> Dict[str, Dict[str, int]]:
    """{split: {class: count}} from a ClassSkew report; raises RebalanceInputError if it does not fit."""
    path = os.path.join(report_uri, CLASS_SKEW_FILE_NAME)
    if not fileio.exists(path):
        raise RebalanceInputError(f"no {CLASS_SKEW_FILE_NAME} in {report_uri!r}: pass ClassSkew's class_skew output")
    with fileio.open(path, "r") as handle:
        try:
            report = json.loads(handle.read())
        except json.JSONDecodeError as error:
            raise RebalanceInputError(f"{path} is not valid JSON ({error}); re-run ClassSkew") from error
    splits = report.get("splits") if isinstance(report, dict) else None
    if not isinstance(splits, dict):
        raise RebalanceInputError(f"{path} has no 'splits' mapping; it is not a ClassSkew report")
    report_label = report.get("label_key")
    if report_label is not None and report_label != label_key:
        raise RebalanceInputError(
            f"{path} describes label {report_label!r} but Rebalance uses label_key={label_key!r}; configure both alike"
        )
    counts = {}
    for split, entry in splits.items():
        class_counts = entry.get("class_counts") if isinstance(entry, dict) else None
        if not isinstance(class_counts, dict):
            raise RebalanceInputError(f"{path}: split {split!r} has no class_counts mapping")
        missing = int(entry.get("missing_label_count") or 0)
        if missing:
            raise RebalanceInputError(
                f"split {split!r}: {missing} example(s) have no label {label_key!r} (per {path}); every example "
                "needs a label to be rebalanced"
            )
        counts[split] = {str(name): int(count) for name, count in class_counts.items()}
    return counts


def _read_text_lines(pattern: str) -> List[str]:
    lines = []
    for path in sorted(fileio.glob(pattern)):
        with fileio.open(path, "r") as handle:
            lines.extend(line for line in handle.read().splitlines() if line.strip())
    return lines


def _copy_tree(source: str, destination: str) -> None:
    """Copies a directory file by file (same bytes)."""
    fileio.makedirs(destination)
    for name in sorted(fileio.listdir(source)):
        name = name.rstrip("/")
        source_path = os.path.join(source, name)
        destination_path = os.path.join(destination, name)
        if fileio.isdir(source_path):
            _copy_tree(source_path, destination_path)
        else:
            fileio.copy(source_path, destination_path, overwrite=False)


class Executor(base_beam_executor.BaseBeamExecutor):
    """Runs Rebalance; see the module docstring for the order of work."""

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        params = RebalanceParameters.from_exec_properties(exec_properties)
        examples = artifact_utils.get_single_instance(input_dict[EXAMPLES_KEY])
        output = artifact_utils.get_single_instance(output_dict[REBALANCED_EXAMPLES_KEY])
        self._check_examples(examples, params)
        split_names = artifact_utils.decode_split_names(examples.split_names)

        counts: Dict[str, Dict[str, int]] = {}
        counts_source = "counted"
        class_skew = input_dict.get(CLASS_SKEW_KEY) or []
        if class_skew:
            report_counts = read_class_skew_counts(artifact_utils.get_single_uri(class_skew), params.label_key)
            counts = {split: report_counts[split] for split in split_names if split in report_counts}
            counts_source = "class_skew"
        temp_root = os.path.join(output.uri, f"{TEMP_DIR_PREFIX}{uuid.uuid4().hex}")
        try:
            to_count = [split for split in split_names if split not in counts]
            if to_count:
                logging.info("Rebalance: counting classes of splits %s in Beam", to_count)
                counts.update(self._count_classes(examples, to_count, params.label_key, temp_root))
                counts_source = "counted" if not class_skew else "class_skew+counted"
            plans = {
                split: plan_split(split, counts[split], params)
                if split in params.splits
                else unchanged_plan(split, counts[split], "not in splits: copied unchanged")
                for split in split_names
            }
            logging.info("Rebalance plan (%s, seed %d): %s", params.strategy, params.seed, describe(plans.values()))
            for plan in plans.values():
                if plan.split in params.splits and not plan.changes_data:
                    logging.warning("Rebalance: split %r not changed: %s", plan.split, plan.note)
            to_rebalance = [split for split in params.splits if plans[split].changes_data]
            if to_rebalance:
                self._rebalance(examples, [plans[split] for split in to_rebalance], params, temp_root)
            for split in split_names:
                if split not in to_rebalance:
                    source = artifact_utils.get_split_uri([examples], split)
                    _copy_tree(source, os.path.join(temp_root, split_dir_name(split)))
            self._move_into_place(temp_root, output.uri, split_names)
            summary = self._summary(params, plans, counts_source, to_rebalance)
            write_text_atomically(os.path.join(output.uri, SUMMARY_FILE_NAME), json.dumps(summary, indent=2) + "\n")
        finally:
            if fileio.exists(temp_root):
                fileio.rmtree(temp_root)
        self._set_properties(examples, output, params, plans, to_rebalance)

    def _check_examples(self, examples: types.Artifact, params: RebalanceParameters) -> None:
        payload = examples_utils.get_payload_format(examples)
        if payload != example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE:
            raise RebalanceInputError(
                f"examples at {examples.uri!r} have payload {example_gen_pb2.PayloadFormat.Name(payload)}; "
                "Rebalance reads FORMAT_TF_EXAMPLE (tf.Example) only"
            )
        file_format = examples_utils.get_file_format(examples)
        if file_format != SUPPORTED_FILE_FORMAT:
            raise RebalanceInputError(
                f"examples at {examples.uri!r} are {file_format!r}; Rebalance reads {SUPPORTED_FILE_FORMAT!r} only"
            )
        split_names = artifact_utils.decode_split_names(examples.split_names)
        unknown = [split for split in params.splits if split not in split_names]
        if unknown:
            raise RebalanceInputError(
                f"splits {unknown} to rebalance are not in the examples at {examples.uri!r}, whose splits are "
                f"{split_names}; fix the splits parameter"
            )

    def _count_classes(
        self, examples: types.Artifact, splits: List[str], label_key: str, temp_root: str
    ) -> Dict[str, Dict[str, int]]:
        """One Beam pass over each split: {split: {class: count}}; bad labels raise RebalanceInputError."""
        counts_prefix = os.path.join(temp_root, "counts", "class_counts")
        with self._make_beam_pipeline() as pipeline:
            per_split = []
            for split in splits:
                (pattern,) = examples_utils.get_split_file_patterns([examples], split)
                per_split.append(
                    pipeline
                    | f"ReadSplit[{split}]" >> beam.io.ReadFromTFRecord(pattern)
                    | f"CountClasses[{split}]" >> sampling.CountClasses(label_key)
                    | f"ToJson[{split}]" >> beam.Map(lambda kv, s=split: json.dumps([s, kv[0], kv[1]]))
                )
            _ = (
                per_split
                | "FlattenCounts" >> beam.Flatten()
                | "WriteCounts" >> beam.io.WriteToText(counts_prefix, file_name_suffix=".jsonl")
            )
        counts: Dict[str, Dict[str, int]] = {split: {} for split in splits}
        problems = []
        for line in _read_text_lines(counts_prefix + "*"):
            split, key, count = json.loads(line)
            if key.startswith(sampling.PROBLEM_PREFIX):
                problems.append(sampling.describe_problem(split, label_key, key, count))
            else:
                counts[split][key] = int(count)
        if problems:
            raise RebalanceInputError("; ".join(sorted(problems)))
        return counts

    def _rebalance(
        self, examples: types.Artifact, plans: List[SplitPlan], params: RebalanceParameters, temp_root: str
    ) -> None:
        """Runs the job; redoes it in two passes if a single-pass cut came up short (same records)."""
        try:
            self._run_rebalance_job(examples, plans, params, temp_root, DEFAULT_CUT_LIMITS)
        except CandidateShortfallError as error:
            logging.warning("Rebalance: %s; running again with two-pass cuts", error)
            for plan in plans:
                split_dir = os.path.join(temp_root, split_dir_name(plan.split))
                if fileio.exists(split_dir):
                    fileio.rmtree(split_dir)
            problems_dir = os.path.join(temp_root, "problems")
            if fileio.exists(problems_dir):
                fileio.rmtree(problems_dir)
            self._run_rebalance_job(examples, plans, params, temp_root, CutLimits(single_pass_max_rows=0))

    def _run_rebalance_job(
        self,
        examples: types.Artifact,
        plans: List[SplitPlan],
        params: RebalanceParameters,
        temp_root: str,
        limits: CutLimits,
    ) -> None:
        problems_prefix = os.path.join(temp_root, "problems", "problems")
        key = sampling.seed_key(params.seed)
        pipeline = self._make_beam_pipeline()
        problem_lines = []
        for plan in plans:
            split = plan.split
            (pattern,) = examples_utils.get_split_file_patterns([examples], split)
            inputs = {"records": pipeline | f"ReadSplit[{split}]" >> beam.io.ReadFromTFRecord(pattern)}
            if plan.needs_second_read(limits):
                inputs["cut_records"] = pipeline | f"ReadSplitForCut[{split}]" >> beam.io.ReadFromTFRecord(pattern)
            applied = inputs | f"ApplyPlan[{split}]" >> sampling.ApplyPlan(plan, params.label_key, params.seed, limits)
            # One write per PCollection: a Flatten would be materialized in memory by the portable runners.
            outputs = {OUTPUT_FILE_PREFIX: applied["records"], EXTRA_FILE_PREFIX: applied[sampling.EXTRA_RECORDS]}
            problem_lines.append(
                applied[sampling.PROBLEMS_TAG]
                | f"SumProblems[{split}]" >> beam.CombinePerKey(sum)
                | f"DescribeProblems[{split}]"
                >> beam.MapTuple(
                    lambda name, count, s=split: (
                        sampling.describe_problem(s, params.label_key, name, count)
                        if name.startswith(sampling.PROBLEM_PREFIX)
                        else f"split {s!r}: {count} example(s) of class {name!r}, which the class counts do not list"
                    )
                )
            )
            smote_classes = plan.smote_classes
            if smote_classes:
                synthetic = applied[sampling.SMOTE_TAG] | f"Smote[{split}]" >> smote.SynthesizeSmote(
                    split,
                    {name: rule.synthetic for name, rule in smote_classes.items()},
                    params.smote_feature_keys,
                    params.k_neighbors,
                    key,
                )
                outputs[SMOTE_FILE_PREFIX] = synthetic["records"]
                problem_lines.append(synthetic[sampling.PROBLEMS_TAG])
            for file_prefix, records in outputs.items():
                _ = records | f"WriteSplit[{split}][{file_prefix}]" >> beam.io.WriteToTFRecord(
                    os.path.join(temp_root, split_dir_name(split), file_prefix),
                    file_name_suffix=".gz",
                    compression_type=beam.io.filesystem.CompressionTypes.GZIP,
                )
        _ = (
            problem_lines
            | "FlattenProblems" >> beam.Flatten()
            | "WriteProblems" >> beam.io.WriteToText(problems_prefix, file_name_suffix=".txt")
        )
        result = pipeline.run()
        result.wait_until_finish()
        problems = _read_text_lines(problems_prefix + "*")
        if any(sampling.SHORTFALL_MESSAGE in line for line in problems):
            raise CandidateShortfallError("; ".join(sorted(problems)))
        if problems:
            raise RebalanceInputError("; ".join(sorted(problems)))
        self._verify_counts(result, plans)

    def _verify_counts(self, result: beam.runners.runner.PipelineResult, plans: List[SplitPlan]) -> None:
        """The job's per-class counters must equal the plan: in = counts before, out = counts after."""
        seen: Dict[tuple, int] = {}
        for counter in result.metrics().query(MetricsFilter().with_namespace(sampling.METRICS_NAMESPACE))["counters"]:
            value = counter.committed if counter.committed is not None else counter.attempted
            seen[tuple(counter.key.metric.name.split("|", 2))] = seen.get(
                tuple(counter.key.metric.name.split("|", 2)), 0
            ) + int(value or 0)
        if not seen:
            logging.warning("Rebalance: the runner reports no counters; output counts not verified")
            return
        for plan in plans:
            got_in = {n: c for (s, d, n), c in seen.items() if s == plan.split and d == "in" and c}
            got_out = {n: c for (s, d, n), c in seen.items() if s == plan.split and d == "out" and c}
            if got_in != plan.counts_before:
                raise RebalanceInputError(
                    f"split {plan.split!r}: the examples hold class counts {dict(sorted(got_in.items()))} but the "
                    f"plan used {plan.counts_before} (from the class_skew report?); re-run ClassSkew on these examples"
                )
            if got_out != plan.counts_after:
                raise RebalanceInternalError(
                    f"split {plan.split!r}: wrote {dict(sorted(got_out.items()))}, planned {plan.counts_after}"
                )
            logging.info("Rebalance: split %r verified: %s -> %s", plan.split, got_in, got_out)

    @staticmethod
    def _move_into_place(temp_root: str, output_uri: str, split_names: List[str]) -> None:
        for split in split_names:
            source = os.path.join(temp_root, split_dir_name(split))
            destination = os.path.join(output_uri, split_dir_name(split))
            if not fileio.isdir(source):
                # An empty split written by Beam still has a directory; absence means the job lost it.
                raise RebalanceInternalError(f"split {split!r} was not written to {source!r}")
            if fileio.exists(destination):
                # Only an earlier, failed attempt of this same execution can have put it there.
                fileio.rmtree(destination)
            fileio.rename(source, destination)

    @staticmethod
    def _summary(
        params: RebalanceParameters, plans: Mapping[str, SplitPlan], counts_source: str, rebalanced: List[str]
    ) -> Dict[str, Any]:
        return {
            "strategy": params.strategy,
            "seed": params.seed,
            "label_key": params.label_key,
            "target_ratio": params.target_ratio,
            "target_counts": None if params.target_counts is None else dict(params.target_counts),
            "counts_source": counts_source,
            "rebalanced_splits": rebalanced,
            "splits": {
                split: {
                    "rebalanced": split in rebalanced,
                    "note": plan.note,
                    "before": plan.counts_before,
                    "after": plan.counts_after,
                    "actions": {name: rule.action for name, rule in sorted(plan.rules.items())},
                }
                for split, plan in plans.items()
            },
        }

    @staticmethod
    def _set_properties(
        examples: types.Artifact,
        output: types.Artifact,
        params: RebalanceParameters,
        plans: Mapping[str, SplitPlan],
        rebalanced: List[str],
    ) -> None:
        output.split_names = examples.split_names
        for name in ("span", "version"):
            if examples.has_property(name):
                setattr(output, name, getattr(examples, name))
        examples_utils.set_payload_format(output, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(output, SUPPORTED_FILE_FORMAT)
        output.set_json_value_custom_property(
            "class_counts",
            {split: {"before": plan.counts_before, "after": plan.counts_after} for split, plan in plans.items()},
        )
        output.set_string_custom_property("strategy", params.strategy)
        output.set_int_custom_property("seed", params.seed)
        output.set_json_value_custom_property("rebalanced_splits", rebalanced)
