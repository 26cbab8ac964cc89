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


def test_plot_effect_volcano():
    import matplotlib.pyplot as plt

    from skres.causal import NeuralEffectSearch
    from skres.datasets import make_leaky_gaussian_trial
    from skres.plotting import plot_effect_volcano

    Z, T, info = make_leaky_gaussian_trial(1152, random_state=0)
    nes = NeuralEffectSearch(device="cpu").fit(Z, T)
    ax = plot_effect_volcano(nes, truth=info.affected)
    offsets = [c.get_offsets() for c in ax.collections]
    naive, selected = offsets[1], offsets[2]
    assert len(naive) == len(nes.first_round_significant_)
    np.testing.assert_allclose(selected[:, 0], nes.effects_[nes.selected_features_])
    np.testing.assert_allclose(
        selected[:, 1], -np.log10(nes.p_values_[nes.selected_features_])
    )
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["x0 (round 1)", "x1 (round 2)"]
    assert ax.lines[0].get_ydata()[0] == pytest.approx(-np.log10(0.05 / 200))
    with pytest.raises(ValueError, match="feature_names"):
        plot_effect_volcano(nes, feature_names=["a"])
    plt.close("all")
