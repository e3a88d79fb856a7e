"""ClassSkew: class imbalance, train/eval label skew and span-to-span label drift from StatisticsGen's output."""
