"""The last blessed model other than the candidate, as the Evaluator's baseline.

TFX's `LatestBlessedModelStrategy` returns the latest blessed model even when it is
the very model being evaluated. Re-running an unchanged pipeline then feeds the
Evaluator a new input (the cached candidate as its own baseline), so the Evaluator,
and after it the Pusher, run again and push the same model a second time. Excluding
the candidate keeps a re-run with no new data a cached no-op, and a model is never
judged against itself.
"""

from __future__ import annotations

from typing import Dict, List, Optional

import ml_metadata as mlmd
from tfx import types
from tfx.dsl.components.common import resolver
from tfx.types import standard_artifacts

CANDIDATE_KEY = "candidate"
MODEL_KEY = "model"
MODEL_BLESSING_KEY = "model_blessing"
# Custom properties the TFX Evaluator sets on ModelBlessing artifacts.
_BLESSED = "blessed"
_CURRENT_MODEL_ID = "current_model_id"


def latest_blessed_other_model(
    candidates: List[types.Artifact], models: List[types.Artifact], blessings: List[types.Artifact]
) -> Dict[str, List[types.Artifact]]:
    """Picks the newest model with a positive blessing, skipping the candidate(s)."""
    excluded = {candidate.id for candidate in candidates}
    blessing_by_model = {
        blessing.get_int_custom_property(_CURRENT_MODEL_ID): blessing
        for blessing in blessings
        if blessing.get_int_custom_property(_BLESSED) == 1
    }
    for model in sorted(models, key=lambda artifact: artifact.id, reverse=True):
        if model.id in blessing_by_model and model.id not in excluded:
            return {CANDIDATE_KEY: candidates, MODEL_KEY: [model], MODEL_BLESSING_KEY: [blessing_by_model[model.id]]}
    return {CANDIDATE_KEY: candidates, MODEL_KEY: [], MODEL_BLESSING_KEY: []}


class LatestBlessedOtherModelStrategy(resolver.ResolverStrategy):
    """Resolver strategy: inputs `candidate`, `model`, `model_blessing`; same keys out."""

    def resolve_artifacts(
        self, store: mlmd.MetadataStore, input_dict: Dict[str, List[types.Artifact]]
    ) -> Optional[Dict[str, List[types.Artifact]]]:
        expected = {CANDIDATE_KEY, MODEL_KEY, MODEL_BLESSING_KEY}
        if set(input_dict) != expected:
            raise ValueError(f"{type(self).__name__} needs inputs {sorted(expected)}, got {sorted(input_dict)}")
        for key, artifact_type in (
            (MODEL_KEY, standard_artifacts.Model),
            (MODEL_BLESSING_KEY, standard_artifacts.ModelBlessing),
        ):
            wrong = [a.type_name for a in input_dict[key] if not isinstance(a, artifact_type)]
            if wrong:
                raise ValueError(f"input {key!r} must hold {artifact_type.TYPE_NAME} artifacts, got {wrong}")
        return latest_blessed_other_model(
            input_dict[CANDIDATE_KEY], input_dict[MODEL_KEY], input_dict[MODEL_BLESSING_KEY]
        )
