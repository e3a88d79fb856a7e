"""Rebalance executor: reads artifacts, plans per class, runs the Beam jobs, moves the result into place.

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
from typing import Any, Dict, List, Mapping, Tuple

from absl import logging
from tfx import types
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils

from components.class_skew.errors import ClassSkewInputError
from components.class_skew.report import REPORT_FILE_NAME as CLASS_SKEW_REPORT_FILE_NAME
from components.class_skew.report import LabelDistributionReport
from components.common.artifact_io import write_artifact_files
from components.common.executor import ComponentExecutor, Execution
from components.rebalance import counting, jobs
from components.rebalance.errors import CandidateShortfallError, RebalanceInputError, RebalanceInternalError
from components.rebalance.plan import (
    DEFAULT_CUT_LIMITS,
    CutLimits,
    SplitPlan,
    describe,
    plan_split,
    unchanged_plan,
)
from components.rebalance.problems import SHORTFALL, Problem
from components.rebalance.spec import (
    CLASS_SKEW_KEY,
    EXAMPLES_KEY,
    FEATURE_KEYS,
    REBALANCED_EXAMPLES_KEY,
    RebalanceParameters,
    smote_features,
)

SUMMARY_FILE_NAME = "rebalance_summary.json"
TEMP_DIR_PREFIX = ".rebalance-tmp-"
SUPPORTED_FILE_FORMAT = "tfrecords_gzip"


def split_dir_name(split: str) -> str:
    return f"Split-{split}"


def read_class_skew_counts(report_uri: str, label_key: str) -> Dict[str, Dict[str, int]]:
    """{split: {class: count}} from a ClassSkew report; raises RebalanceInputError if it does not fit."""
    try:
        report = LabelDistributionReport.load(report_uri)
    except ClassSkewInputError as error:
        raise RebalanceInputError(str(error)) from error
    path = os.path.join(report_uri, CLASS_SKEW_REPORT_FILE_NAME)
    if report.label_key != label_key:
        raise RebalanceInputError(
            f"{path} describes label {report.label_key!r} but Rebalance uses label_key={label_key!r}; "
            "configure both alike"
        )
    counts = {}
    for split, distribution in report.splits.items():
        if distribution.missing_label_count:
            raise RebalanceInputError(
                f"split {split!r}: {distribution.missing_label_count} example(s) have no label {label_key!r} "
                f"(per {path}); every example needs a label to be rebalanced"
            )
        counts[split] = {str(name): int(count) for name, count in distribution.class_counts.items()}
    return counts


def _copy_tree(source: str, destination: str) -> None:
    """Copies a directory file by file (same bytes)."""
    fileio.makedirs(destination)
    for name in sorted(fileio.listdir(source)):
        name = os.fsdecode(name).rstrip("/")
        source_path = os.path.join(source, name)
        destination_path = os.path.join(destination, name)
        if fileio.isdir(source_path):
            _copy_tree(source_path, destination_path)
        else:
            fileio.copy(source_path, destination_path, overwrite=False)


def _raise_problems(problems: List[Problem], label_key: str) -> None:
    """One RebalanceInputError naming every problem (CandidateShortfallError if a cut came up short)."""
    if not problems:
        return
    message = "; ".join(sorted(problem.describe(label_key) for problem in problems))
    if any(problem.kind == SHORTFALL for problem in problems):
        raise CandidateShortfallError(message)
    raise RebalanceInputError(message)


class Executor(ComponentExecutor[RebalanceParameters], base_beam_executor.BaseBeamExecutor):
    """Runs Rebalance; see the module docstring for the order of work."""

    PARAMETERS = RebalanceParameters

    def run(self, execution: Execution[RebalanceParameters]) -> None:
        params, label_key = execution.parameters, execution.label_key
        smote_keys = smote_features(params, label_key, json.loads(execution.exec_properties[FEATURE_KEYS]))
        examples = execution.input(EXAMPLES_KEY)
        output = execution.output(REBALANCED_EXAMPLES_KEY)
        self._check_examples(examples, params)
        split_names = artifact_utils.decode_split_names(examples.split_names)

        counts: Dict[str, Dict[str, int]] = {}
        counts_source = "counted"
        class_skew = execution.optional_inputs(CLASS_SKEW_KEY)
        if class_skew:
            report_counts = read_class_skew_counts(artifact_utils.get_single_uri(class_skew), label_key)
            counts = {split: report_counts[split] for split in split_names if split in report_counts}
            counts_source = "class_skew"
        temp_root = os.path.join(output.uri, f"{TEMP_DIR_PREFIX}{uuid.uuid4().hex}")
        try:
            to_count = [split for split in split_names if split not in counts]
            if to_count:
                logging.info("Rebalance: counting classes of splits %s in Beam", to_count)
                counts.update(self._count_classes(examples, to_count, label_key, temp_root))
                counts_source = "counted" if not class_skew else "class_skew+counted"
            plans = {
                split: plan_split(split, counts[split], params, label_key)
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
                rebalanced_plans = [plans[split] for split in to_rebalance]
                self._rebalance(examples, rebalanced_plans, params, label_key, smote_keys, temp_root)
            for split in split_names:
                if split not in to_rebalance:
                    source = artifact_utils.get_split_uri([examples], split)
                    _copy_tree(source, os.path.join(temp_root, split_dir_name(split)))
            self._move_into_place(temp_root, output.uri, split_names)
            summary = self._summary(params, label_key, plans, counts_source, to_rebalance)
            write_artifact_files(output.uri, {SUMMARY_FILE_NAME: json.dumps(summary, indent=2) + "\n"})
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
        problems_prefix = os.path.join(temp_root, "counts", "problems")
        patterns = {split: _split_pattern(examples, split) for split in splits}
        with self._make_beam_pipeline() as pipeline:
            _ = pipeline | "CountSplits" >> jobs.CountSplits(patterns, label_key, counts_prefix, problems_prefix)
        _raise_problems(jobs.read_problems(problems_prefix), label_key)
        return jobs.read_counts(counts_prefix, splits)

    def _rebalance(
        self,
        examples: types.Artifact,
        plans: List[SplitPlan],
        params: RebalanceParameters,
        label_key: str,
        smote_keys: Tuple[str, ...],
        temp_root: str,
    ) -> None:
        """Runs the job; redoes it in two passes if a single-pass cut came up short (same records)."""
        problems_prefix = os.path.join(temp_root, "problems", "problems")

        def run_job(limits: CutLimits) -> None:
            pipeline = self._make_beam_pipeline()
            settings = jobs.JobSettings(label_key, params, smote_keys, limits)
            problems = []
            for plan in plans:
                split = plan.split
                split_dir = os.path.join(temp_root, split_dir_name(split))
                rebalance_split = jobs.RebalanceSplit(_split_pattern(examples, split), plan, split_dir, settings)
                problems.append(pipeline | f"Rebalance[{split}]" >> rebalance_split)
            _ = tuple(problems) | "Problems" >> jobs.WriteProblems(problems_prefix)
            result = pipeline.run()
            result.wait_until_finish()
            _raise_problems(jobs.read_problems(problems_prefix), label_key)
            counting.check_counts(counting.read_counters(result), plans)
            for plan in plans:
                split_dir = os.path.join(temp_root, split_dir_name(plan.split))
                missing = jobs.missing_output_files(split_dir, jobs.output_file_prefixes(plan, params))
                if missing:
                    raise RebalanceInternalError(
                        f"Rebalance: split {plan.split!r} lost written records after the job ({'; '.join(missing)} "
                        f"in {split_dir}); nothing was moved into place"
                    )

        try:
            run_job(DEFAULT_CUT_LIMITS)
        except CandidateShortfallError as error:
            logging.warning("Rebalance: %s; running again with two-pass cuts", error)
            for name in [split_dir_name(plan.split) for plan in plans] + ["problems"]:
                if fileio.exists(os.path.join(temp_root, name)):
                    fileio.rmtree(os.path.join(temp_root, name))
            run_job(CutLimits(single_pass_max_rows=0))

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
        params: RebalanceParameters,
        label_key: str,
        plans: Mapping[str, SplitPlan],
        counts_source: str,
        rebalanced: List[str],
    ) -> Dict[str, Any]:
        return {
            "strategy": params.strategy,
            "seed": params.seed,
            "label_key": label_key,
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


def _split_pattern(examples: types.Artifact, split: str) -> str:
    (pattern,) = examples_utils.get_split_file_patterns([examples], split)
    return pattern
