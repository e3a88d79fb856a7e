"""Trainer module: model, losses, threshold tuning and input pipelines for the stock TFX Trainer."""
