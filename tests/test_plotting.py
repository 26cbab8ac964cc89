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
