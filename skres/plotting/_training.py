"""Training-curve plots for iterative estimators."""

from __future__ import annotations

from typing import Any

from sklearn.utils.validation import check_is_fitted


def _import_pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "skres.plotting needs matplotlib: pip install 'skres[plot]'."
        ) from exc
    return plt


def plot_training_history(
    estimator: Any, metrics: tuple[str, ...] | None = None, *, axes: Any = None
) -> Any:
    """Plot the per-epoch ``history_`` of a fitted iterative estimator.

    Parameters
    ----------
    estimator : fitted estimator with a ``history_`` dict of lists
        E.g. a :class:`~skres.causal.SparseAutoencoder`.
    metrics : tuple of str, default=None
        Keys of ``history_`` to draw, one panel each; all of them when ``None``.
    axes : array of matplotlib Axes, default=None
        Axes to draw on (one per metric); a new figure when ``None``.

    Returns
    -------
    numpy.ndarray of matplotlib Axes
    """
    import numpy as np

    check_is_fitted(estimator, "history_")
    history = estimator.history_
    metrics = tuple(history) if metrics is None else tuple(metrics)
    unknown = [m for m in metrics if m not in history]
    if unknown:
        raise ValueError(f"metrics {unknown} are not in history_ ({list(history)}).")
    if axes is None:
        plt = _import_pyplot()
        _, axes = plt.subplots(
            1,
            len(metrics),
            figsize=(3.2 * len(metrics), 2.8),
            squeeze=False,
            layout="constrained",
        )
    axes = np.ravel(axes)
    if len(axes) != len(metrics):
        raise ValueError(f"axes has {len(axes)} entries; {len(metrics)} are needed.")
    for ax, name in zip(axes, metrics, strict=True):
        values = history[name]
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", markersize=3)
        ax.set_xlabel("epoch")
        ax.set_title(name)
    return axes
