"""Custom TFX components for imbalanced classification."""
