"""Rebalance: seeded, exact, scalable under-, over-, hybrid sampling and SMOTE of TFX Examples."""
