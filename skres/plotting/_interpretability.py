"""Plots for the interpretability estimators."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._training import _import_pyplot


def plot_unit_weights(aligner: Any, unit_info: Any = None, *, ax: Any = None) -> Any:
    """Bar chart of how strongly a fitted ResiDualAligner reweights each unit.

    Each bar is the root-mean-square of the unit's learned weights ``lambdas_[u]``
    (1 = unchanged on average, 0 = switched off); units that are not adapted are
    drawn empty. With ``unit_info`` (from
    :func:`~skres.interpretability.extract_residual_units`) the bars are coloured by
    unit type and labelled by layer and head.

    Parameters
    ----------
    aligner : fitted :class:`~skres.interpretability.ResiDualAligner`
    unit_info : pandas.DataFrame, default=None
        One row per unit with columns ``type``, ``layer``, ``head``.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when ``None``.

    Returns
    -------
    matplotlib Axes
    """
    check_is_fitted(aligner, "n_params_")
    rms = np.array(
        [np.sqrt(np.mean(lam**2)) if lam.size else 0.0 for lam in aligner.lambdas_]
    )
    if ax is None:
        plt = _import_pyplot()
        _, ax = plt.subplots(
            figsize=(max(4.0, 0.25 * len(rms) + 2), 3), layout="constrained"
        )
    positions = np.arange(len(rms))
    if unit_info is not None and len(unit_info) != len(rms):
        raise ValueError(
            f"unit_info has {len(unit_info)} rows but the aligner has {len(rms)} units."
        )
    if unit_info is None:
        colours = ["C0"] * len(rms)
        labels = [str(u) for u in positions]
    else:
        palette = {"emb": "C2", "mlp": "C1", "head": "C0"}
        colours = [palette.get(t, "C3") for t in unit_info["type"]]
        labels = [
            t if t == "emb" else f"{t[0]}{layer}" + (f".{head}" if head >= 0 else "")
            for t, layer, head in zip(
                unit_info["type"], unit_info["layer"], unit_info["head"], strict=True
            )
        ]
    ax.bar(
        positions,
        rms,
        color=colours,
        edgecolor=["k" if a else "0.6" for a in aligner.unit_mask_],
        fill=True,
    )
    ax.axhline(1.0, color="0.5", linestyle=":", linewidth=1)
    ax.set_xticks(positions, labels, rotation=90, fontsize=7)
    ax.set_ylabel("RMS of learned weights")
    ax.set_title("ResiDual: reweighting per unit")
    return ax


def plot_head_scores(ranker: Any, *, ax: Any = None, annotate_top: bool = True) -> Any:
    """Heatmap of a fitted HeadRanker's scores, layers by heads.

    Parameters
    ----------
    ranker : fitted :class:`~skres.interpretability.HeadRanker`
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when ``None``.
    annotate_top : bool, default=True
        Outline the selected heads.

    Returns
    -------
    matplotlib Axes
    """
    check_is_fitted(ranker, "scores_")
    layers, heads = ranker.head_index_[:, 0], ranker.head_index_[:, 1]
    grid = np.full((layers.max() + 1, heads.max() + 1), np.nan)
    scores = np.where(np.isfinite(ranker.scores_), ranker.scores_, np.nan)
    grid[layers, heads] = scores
    if ax is None:
        plt = _import_pyplot()
        _, ax = plt.subplots(
            figsize=(1.0 + 0.35 * grid.shape[1], 1.0 + 0.25 * grid.shape[0]),
            layout="constrained",
        )
    image = ax.imshow(grid, aspect="auto", cmap="viridis", origin="lower")
    ax.figure.colorbar(image, ax=ax, label=ranker.metric)
    if annotate_top:
        from matplotlib.patches import Rectangle

        for layer, head in ranker.selected_head_index_:
            ax.add_patch(
                Rectangle(
                    (head - 0.5, layer - 0.5),
                    1,
                    1,
                    fill=False,
                    edgecolor="red",
                    linewidth=1.5,
                )
            )
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_title("Head Pursuit scores")
    return ax


def plot_edit_curve(
    evaluation: Any, *, alpha: float | None = None, axes: Any = None
) -> Any:
    """k-curves of a head-editing evaluation: concept mass and control accuracy.

    Both are relative to the unedited model. SOMP and logit-lens rankings are
    lines; random layer-matched heads are their median with the interquartile
    range shaded.

    Parameters
    ----------
    evaluation : :class:`~skres.interpretability.HeadEditEvaluation`
        From :func:`~skres.interpretability.evaluate_head_edits`.
    alpha : float, default=None
        Which edit factor to plot (the first of ``evaluation.alphas`` when
        ``None``).
    axes : sequence of two matplotlib Axes, default=None
        Where to draw; a new figure when ``None``.

    Returns
    -------
    ndarray of matplotlib Axes
    """
    alphas = np.asarray(evaluation.alphas, dtype=float)
    a = 0 if alpha is None else int(np.flatnonzero(np.isclose(alphas, alpha))[0])
    if axes is None:
        plt = _import_pyplot()
        _, axes = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
    axes = np.asarray(axes).ravel()
    ks = np.asarray(evaluation.ks)
    panels = (
        ("concept_mass", "concept probability mass (x unedited)"),
        ("control_accuracy", "control accuracy (x unedited)"),
    )
    for ax, (metric, label) in zip(axes, panels, strict=True):
        ax.plot(ks, evaluation.relative("somp", metric)[a], "o-", label="SOMP")
        ax.plot(
            ks, evaluation.relative("logit_lens", metric)[a], "s--", label="logit lens"
        )
        med, q1, q3 = evaluation.random_summary(metric, relative=True)[:, a]
        ax.plot(ks, med, "^:", color="0.4", label="random (median)")
        ax.fill_between(ks, q1, q3, color="0.4", alpha=0.2, label="random IQR")
        ax.set_xscale("log", base=2)
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.axhline(1.0, color="0.7", linewidth=0.8)
        ax.set_xlabel("heads edited (k)")
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
    axes[0].legend(fontsize=8)
    axes[0].set_title(f"alpha = {alphas[a]:g}")
    return axes
