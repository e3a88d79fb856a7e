"""Side-by-side report of every imbalance strategy, trained and scored on the same splits.

    .venv/bin/python -m benchmarks.strategy_report --output reports/strategies
    .venv/bin/python -m benchmarks.strategy_report --output /tmp/r --data tests/data/creditcard_small.csv \\
        --strategies none,smote,ensemble,gbt --max-epochs 1

What one run does:
1. prepares the data set like the runner (`--dataset`, the credit-card description by default;
   `--data` reads another table in its layout): `pipeline.prepare` writes stratified
   train/valid/eval splits, which the pipeline's ExampleGen turns into Examples once; the
   schema is the description's reviewed one (or inferred, as on a data set's first run);
2. per strategy: runs the pipeline's Rebalance (Beam) where the strategy is a resampling one,
   then every pipeline node between Rebalance and the Trainer and the Trainer itself
   (`components.trainer.model.run_fn` with `trainer_custom_config(config)`), each executor in
   this process through `pipeline/harness.py` with the execution properties
   `create_pipeline(config)` gives it; the strategy only changes `trainer.model` (the family:
   `mlp`, `gbt`, `mlp_gbt`, `rf` or `mlp_rf`), `trainer.loss`, `trainer.gbt_example_weights`,
   `trainer.balanced_batches`, `trainer.min_batch_positives`, `trainer.ensemble_members`,
   `trainer.ensemble_recipes` or `rebalance.strategy`;
3. scores the eval split through the exported SavedModel's `serving_default` signature, batch
   by batch from the TFRecords, and saves labels, probabilities, decisions and slice values in
   `strategies/<name>/predictions.npz`;
4. computes PR-AUC (average precision), ROC-AUC and precision/recall/F1 at the threshold the
   Trainer tuned on `valid` (read from `training_report.json`), overall and per slice;
5. advises which model to train (`choice`): the row that trains what the runner would with this
   description and flags stays unless the best row on valid leads it in >= 95% of paired,
   class-stratified bootstrap resamples of valid; a switch comes with its `settings:` entry;
6. writes `report.json` (every figure) and a self-contained `report.html` (inline PNGs).

A multiclass description (`label.classes`) gets the strategies that apply to k classes (the
binary-only ones are skipped with a line saying why, or refused when named), Rebalance targets
per class from `target_ratio` (`strategies.multiclass_target_counts`), and per class: recall and
precision of the served class, one-vs-rest PR-AUC and ROC-AUC, their macro averages, the
protected classes' lowest recall and mean PR-AUC (the ranking), PR and ROC curves per class, the
confusion matrix, and the same per slice.

Modules: `strategies` (what each strategy changes), `inputs` (data prep, Examples, schema),
`runs` (running and reusing each strategy), `metrics`, `classes` (per-class figures), `choice`
(keep or switch the model), `render` and `render_classes` (HTML, plots, Markdown) and `cli`
(flags and `main`).
"""
