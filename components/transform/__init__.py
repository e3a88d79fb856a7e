"""The stock TFX Transform's module: a preprocessing_fn built from the data set's columns."""
