"""Volcano plots of per-neuron treatment effects: naive tests vs NES."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._training import _import_pyplot


def plot_effect_volcano(
    estimator: Any,
    *,
    truth: Any = None,
    annotate: bool = True,
    feature_names: Any = None,
    ax: Any = None,
) -> Any:
    """Effect versus -log10 p of every neuron, naive selections versus NES.

    Draws the first (naive, per-neuron Welch) round of a fitted
    :class:`~skres.causal.NeuralEffectSearch`: every tested neuron's
    ``effects_`` against ``-log10(p_values_)``, the first round's rejection
    threshold, the neurons naive testing flags (``first_round_significant_``) and
    the neurons NES selects (``selected_features_``, numbered by round).

    Parameters
    ----------
    estimator : fitted NeuralEffectSearch
        Or any object with the same fitted attributes.
    truth : array-like of int, default=None
        Indices of the truly affected neurons (known in simulations), circled.
    annotate : bool, default=True
        Label the NES selections with their name and round.
    feature_names : array-like of str, default=None
        Neuron names for the labels; ``feature_names_in_`` or ``x<j>`` by default.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when ``None``.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skres.causal import NeuralEffectSearch
    >>> from skres.datasets import make_leaky_gaussian_trial
    >>> from skres.plotting import plot_effect_volcano
    >>> Z, T, info = make_leaky_gaussian_trial(random_state=0)
    >>> ax = plot_effect_volcano(NeuralEffectSearch().fit(Z, T), truth=info.affected)
    """
    check_is_fitted(estimator, "selected_features_")
    effects = np.asarray(estimator.effects_, dtype=float)
    p = np.asarray(estimator.p_values_, dtype=float)
    active = np.asarray(
        getattr(estimator, "active_mask_", np.ones(len(effects), bool)), bool
    )
    if feature_names is None:
        names = getattr(estimator, "feature_names_in_", None)
        if names is None:
            names = np.array([f"x{j}" for j in range(len(effects))], dtype=object)
    else:
        names = np.asarray(feature_names, dtype=object)
        if len(names) != len(effects):
            raise ValueError(
                f"feature_names has {len(names)} entries; {len(effects)} are needed."
            )
    with np.errstate(divide="ignore"):
        y = -np.log10(np.clip(p, 1e-300, 1.0))
    if ax is None:
        plt = _import_pyplot()
        _, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    naive = np.zeros(len(effects), dtype=bool)
    naive[np.asarray(estimator.first_round_significant_, dtype=int)] = True
    selected = np.asarray(estimator.selected_features_, dtype=int)
    rest = active & ~naive
    ax.scatter(effects[rest], y[rest], s=10, c="0.7", label="not significant")
    ax.scatter(
        effects[naive],
        y[naive],
        s=18,
        c="tab:orange",
        label=f"naive per-neuron test ({naive.sum()})",
    )
    ax.scatter(
        effects[selected],
        y[selected],
        s=70,
        marker="*",
        c="tab:blue",
        zorder=3,
        label=f"Neural Effect Search ({len(selected)})",
    )
    if truth is not None:
        truth = np.asarray(truth, dtype=int)
        ax.scatter(
            effects[truth],
            y[truth],
            s=160,
            facecolors="none",
            edgecolors="k",
            zorder=4,
            label="truly affected",
        )
    rounds = getattr(estimator, "rounds_", [])
    if rounds:
        threshold = rounds[0]["threshold"]
        ax.axhline(-np.log10(threshold), color="tab:orange", ls="--", lw=1)
    if annotate:
        for r, j in enumerate(selected, start=1):
            ax.annotate(
                f"{names[j]} (round {r})",
                (effects[j], y[j]),
                textcoords="offset points",
                xytext=(6, 4),
                fontsize=8,
            )
    ax.set_xlabel("first-round effect (difference in means)")
    ax.set_ylabel("-log10 p (first round)")
    ax.legend(fontsize=8, loc="best")
    return ax
