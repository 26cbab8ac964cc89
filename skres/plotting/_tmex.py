"""Heatmap of the T-MEX p-value matrix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._training import _import_pyplot


def plot_pvalue_heatmap(
    scorer: Any,
    *,
    block_names: Sequence[str] | None = None,
    latent_names: Sequence[str] | None = None,
    annotate: bool = True,
    ax: Any = None,
) -> Any:
    """Draw the p-value matrix of a fitted :class:`~skres.causal.TMEXScorer`.

    Cells show ``-log10`` of the (adjusted) p-values, so dependence is dark;
    expected edges of the measurement model (``expected_ == 1``) are outlined, and
    violations (``mismatch_``) are marked with a red cross. The title reports the
    T-MEX.

    Parameters
    ----------
    scorer : fitted TMEXScorer
        Provides ``adjusted_pvalues_``, ``expected_``, ``mismatch_``,
        ``n_violations_`` and
        ``alpha``.
    block_names : sequence of str, default=None
        Row labels; ``feature_names_in_`` (one-column blocks) or ``"block i"``.
    latent_names : sequence of str, default=None
        Column labels; ``latent_names_`` or ``"Z_j"``.
    annotate : bool, default=True
        Write each p-value in its cell (skipped above 20 x 20 cells).
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure when ``None``.

    Returns
    -------
    matplotlib Axes
    """
    check_is_fitted(scorer, "pvalues_")
    p = np.asarray(scorer.adjusted_pvalues_, dtype=float)
    m, t = p.shape
    if block_names is None:
        names_in = getattr(scorer, "feature_names_in_", None)
        if names_in is not None and all(len(b) == 1 for b in scorer.blocks_):
            block_names = [str(names_in[b[0]]) for b in scorer.blocks_]
        else:
            block_names = [f"block {i}" for i in range(m)]
    if latent_names is None:
        names = scorer.latent_names_
        latent_names = (
            [f"Z_{j}" for j in scorer.test_latents_]
            if names is None
            else [str(names[j]) for j in scorer.test_latents_]
        )
    if len(block_names) != m or len(latent_names) != t:
        raise ValueError(
            f"block_names/latent_names must have {m} and {t} entries; got "
            f"{len(block_names)} and {len(latent_names)}."
        )
    if ax is None:
        plt = _import_pyplot()
        _, ax = plt.subplots(
            figsize=(1.0 + 0.55 * t, 0.8 + 0.45 * m), layout="constrained"
        )
    logp = -np.log10(np.clip(p, 1e-300, 1.0))
    vmax = max(float(np.max(logp)), -np.log10(scorer.alpha) * 2)
    image = ax.imshow(
        np.minimum(logp, 50.0), cmap="viridis", vmin=0.0, vmax=min(vmax, 50.0)
    )
    ax.figure.colorbar(image, ax=ax, label="-log10 p (capped at 50)")
    ax.set_xticks(np.arange(t), labels=list(latent_names), rotation=45, ha="right")
    ax.set_yticks(np.arange(m), labels=list(block_names))
    ax.set_xlabel("true latent")
    ax.set_ylabel("learned block")
    rows, cols = np.nonzero(np.asarray(scorer.expected_) == 1)
    for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
        ax.add_patch(
            _rectangle(ax, (col - 0.5, row - 0.5), edgecolor="white", linewidth=2.0)
        )
    rows, cols = np.nonzero(np.asarray(scorer.mismatch_))
    ax.scatter(cols, rows, marker="x", color="red", s=60, linewidths=2)
    if annotate and m * t <= 400:
        for i in range(m):
            for j in range(t):
                ax.text(
                    j,
                    i,
                    f"{p[i, j]:.2g}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if logp[i, j] < 0.6 * vmax else "black",
                )
    ax.set_title(
        f"T-MEX = {scorer.n_violations_} of {scorer.n_tested_pairs_} "
        f"(alpha = {scorer.alpha:g})"
    )
    return ax


def _rectangle(ax: Any, xy: tuple[float, float], **kwargs: Any) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle(xy, 1.0, 1.0, fill=False, **kwargs)
