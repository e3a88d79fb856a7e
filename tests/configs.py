"""PipelineConfigs for the tests that build one and run nothing: placeholder paths plus what a test is about."""

from __future__ import annotations

from typing import Any

from pipeline.config import PipelineConfig

# Paths no test reads or writes: the config only has to name them.
PLACEHOLDER_PATHS = {"pipeline_name": "p", "pipeline_root": "/r", "data_root": "/d", "serving_model_dir": "/s"}


def placeholder_config(**fields: Any) -> PipelineConfig:
    """A PipelineConfig with the placeholder paths and `fields` (the label, the features, any setting)."""
    return PipelineConfig(**{**PLACEHOLDER_PATHS, **fields})
