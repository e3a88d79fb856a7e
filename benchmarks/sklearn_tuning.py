"""A hand-tuned scikit-learn model: a small grid, every point fitted on train and ranked on valid.

"Does the pipeline beat what I'd do by hand?" is only a fair question against a model someone
tuned. A user tuning by hand fits a few settings on train, keeps the one that ranks the valid split
best, and looks at eval once; this module does exactly that, so the baseline never sees eval
before its setting is chosen. The grids are what a practitioner tries first on an imbalanced
table: class weights on or off, a learning rate, tree size, length and L2 penalty for boosting,
split candidates and leaf size for ExtraTrees. The ranking metric is the strategy report's: PR-AUC
(average precision) for a binary label, the protected classes' mean one-vs-rest PR-AUC for a
multiclass one (macro when none is protected).
"""

from __future__ import annotations

import itertools
from typing import Any, Dict, List, Mapping, Sequence, Tuple

import numpy as np

# Every point of a grid is a dict of keyword arguments of the scikit-learn estimator.
GRIDS: Mapping[str, Mapping[str, Tuple[Any, ...]]] = {
    "hist_gradient_boosting": {
        "class_weight": (None, "balanced"),
        "learning_rate": (0.05, 0.1),
        "max_leaf_nodes": (15, 31),
        "max_iter": (200, 500),
        # Unweighted Newton steps on a rare class's leaves are huge without it (hessians near 0).
        "l2_regularization": (0.0, 1.0),
    },
    "extra_trees": {
        "class_weight": (None, "balanced_subsample"),
        "max_features": ("sqrt", 0.5),
        "min_samples_leaf": (1, 5),
    },
}


def grid_points(model: str) -> List[Dict[str, Any]]:
    """The grid's settings in a fixed order (the first of equal valid scores wins)."""
    grid = GRIDS[model]
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*(grid[name] for name in names))]


def build_model(model: str, settings: Mapping[str, Any], has_categorical: Sequence[bool], seed: int) -> Any:
    """An unfitted estimator with `settings`; boosting grows every tree (no early stopping on a slice of train)."""
    from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier

    if model == "extra_trees":
        return ExtraTreesClassifier(n_estimators=300, n_jobs=-1, random_state=seed, **settings)
    return HistGradientBoostingClassifier(
        categorical_features=list(has_categorical) if any(has_categorical) else None,
        early_stopping=False,
        random_state=seed,
        **settings,
    )


def ranking_score(labels: np.ndarray, probabilities: np.ndarray, protected: Sequence[int]) -> float:
    """PR-AUC of the positive class (binary), or the mean one-vs-rest PR-AUC of the protected classes."""
    from sklearn.metrics import average_precision_score

    if probabilities.ndim == 1 or probabilities.shape[1] == 2:
        positive = probabilities if probabilities.ndim == 1 else probabilities[:, 1]
        return float(average_precision_score(labels, positive))
    classes = list(protected) or list(range(probabilities.shape[1]))
    present = [index for index in classes if np.any(labels == index)]
    if not present:
        raise ValueError("valid holds no row of any class the ranking is taken over; a larger valid split is needed")
    return float(np.mean([average_precision_score(labels == index, probabilities[:, index]) for index in present]))


def tune(
    model: str,
    matrices: Mapping[str, np.ndarray],
    labels: Mapping[str, np.ndarray],
    has_categorical: Sequence[bool],
    protected: Sequence[int],
    seed: int,
) -> Tuple[Any, Dict[str, Any], List[Dict[str, Any]]]:
    """(the fitted model best on valid, its settings, one row per grid point: its settings and valid score).

    Only train and valid are read here; the caller scores eval once, for the chosen model.
    """
    best_model, best_settings, best_score, rows = None, {}, -np.inf, []
    for settings in grid_points(model):
        estimator = build_model(model, settings, has_categorical, seed)
        estimator.fit(matrices["train"], labels["train"])
        score = ranking_score(labels["valid"], estimator.predict_proba(matrices["valid"]), protected)
        rows.append({"settings": settings, "valid_ranking_score": score})
        if score > best_score:
            best_model, best_settings, best_score = estimator, settings, score
    return best_model, best_settings, rows
