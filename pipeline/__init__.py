"""Pipeline definition, configuration and data preparation for imbalanced classification."""
