"""Plots of latent dynamics (``skres.dynamics.LatentVectorField``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._training import _import_pyplot


def plot_latent_field(
    estimator: Any,
    *,
    ax: Any = None,
    bounds: tuple[float, float, float, float] | None = None,
    grid: int = 30,
    latents: Any = None,
    labels: Any = None,
) -> Any:
    """Streamplot of a 2-D latent vector field ``v(z) = E(D(z)) - z``.

    Parameters
    ----------
    estimator : fitted LatentVectorField
        Its latent space must be 2-D.
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure when ``None``.
    bounds : tuple of float, default=None
        ``(xmin, xmax, ymin, ymax)``; the training latents' range plus a margin
        when ``None``.
    grid : int, default=30
        Grid points per axis at which the field is evaluated.
    latents : array-like of shape (n_points, 2), default=None
        Points to scatter (e.g. ``transform(X)[:, :2]``); the training latents
        when ``None``.
    labels : array-like of shape (n_points,), default=None
        Colours of the scattered points.

    Returns
    -------
    matplotlib Axes
    """
    check_is_fitted(estimator, "attractors_")
    if estimator.n_latent_ != 2:
        raise ValueError(
            f"plot_latent_field needs a 2-D latent space; this one has "
            f"{estimator.n_latent_} dimensions."
        )
    if not (isinstance(grid, int) and grid >= 2):
        raise ValueError(f"grid must be an int >= 2; got {grid!r}.")
    plt = _import_pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    pts = estimator.train_latents_ if latents is None else np.asarray(latents)
    if bounds is None:
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        pad = 0.15 * (hi - lo) + 1e-6
        bounds = (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
    xs = np.linspace(bounds[0], bounds[1], grid)
    ys = np.linspace(bounds[2], bounds[3], grid)
    gx, gy = np.meshgrid(xs, ys)
    field = estimator.vector_field(np.c_[gx.ravel(), gy.ravel()])
    u, v = field[:, 0].reshape(gx.shape), field[:, 1].reshape(gx.shape)
    speed = np.hypot(u, v)
    ax.streamplot(xs, ys, u, v, color=speed, cmap="Greys", density=1.2, linewidth=0.7)
    if labels is None:
        ax.scatter(pts[:, 0], pts[:, 1], s=6, c="tab:blue", alpha=0.6)
    else:
        ax.scatter(pts[:, 0], pts[:, 1], c=labels, s=6, cmap="tab10", alpha=0.6)
    att = estimator.attractors_
    ax.scatter(
        att[:, 0],
        att[:, 1],
        marker="*",
        s=120,
        c="red",
        edgecolors="k",
        zorder=3,
        label="attractors",
    )
    ax.set_xlim(bounds[0], bounds[1])
    ax.set_ylim(bounds[2], bounds[3])
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    ax.legend(loc="upper right")
    return ax
