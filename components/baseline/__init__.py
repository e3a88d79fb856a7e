"""Resolving the baseline model the Evaluator compares a candidate with."""
