"""Helpers shared by the custom components."""
