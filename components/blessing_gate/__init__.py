"""BlessingGate: blesses a model only if every slice large enough to judge holds its thresholds."""
