import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from skres.causal import SparseAutoencoder  # noqa: E402
from skres.plotting import plot_training_history  # noqa: E402


def test_plot_training_history():
    import matplotlib.pyplot as plt

    X = np.random.RandomState(0).standard_normal((100, 4))
    sae = SparseAutoencoder(
        n_components=8, k=2, max_epochs=3, device="cpu", random_state=0
    ).fit(X)
    axes = plot_training_history(sae, ("mse", "fve"))
    assert len(axes) == 2
    assert axes[1].get_title() == "fve"
    np.testing.assert_allclose(axes[0].lines[0].get_ydata(), sae.history_["mse"])
    with pytest.raises(ValueError, match="not in history_"):
        plot_training_history(sae, ("accuracy",))
    plt.close("all")


def test_plot_pvalue_heatmap():
    import matplotlib.pyplot as plt

    from skres.causal import TMEXScorer
    from skres.datasets import make_measurement_model
    from skres.plotting import plot_pvalue_heatmap

    Z_hat, Z, _ = make_measurement_model(
        500, 4, setting="one_pair_mixed", random_state=0
    )
    tmex = TMEXScorer().fit(Z_hat, Z)
    ax = plot_pvalue_heatmap(tmex)
    assert ax.get_title().startswith(f"T-MEX = {tmex.score_} of 16")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Z_0", "Z_1", "Z_2", "Z_3"]
    assert len(ax.patches) == 4  # one outline per expected edge
    offsets = ax.collections[0].get_offsets()
    np.testing.assert_array_equal(np.asarray(offsets), [[1, 0]])  # the violation
    assert len(ax.texts) == 16
    with pytest.raises(ValueError, match="entries"):
        plot_pvalue_heatmap(tmex, latent_names=["a"])
    plt.close("all")
