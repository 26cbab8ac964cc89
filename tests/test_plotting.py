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


def test_plot_unit_weights():
    import matplotlib.pyplot as plt
    import pandas as pd

    from skres.datasets import make_residual_units
    from skres.interpretability import ResiDualAligner
    from skres.plotting import plot_unit_weights

    X, y, text = make_residual_units(300, n_units=4, random_state=0)
    mask = np.array([True, True, False, True])
    clf = ResiDualAligner(
        class_embeddings=text,
        unit_mask=mask,
        max_epochs=2,
        device="cpu",
        random_state=0,
    ).fit(X, y)
    ax = plot_unit_weights(clf)
    heights = [patch.get_height() for patch in ax.patches]
    expected = [np.sqrt(np.mean(lam**2)) if lam.size else 0.0 for lam in clf.lambdas_]
    np.testing.assert_allclose(heights, expected)
    info = pd.DataFrame(
        {
            "type": ["emb", "mlp", "head", "head"],
            "layer": [-1, 0, 0, 0],
            "head": [-1, -1, 0, 1],
        }
    )
    ax = plot_unit_weights(clf, info)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["emb", "m0", "h0.0", "h0.1"]
    with pytest.raises(ValueError, match="unit_info has 2 rows"):
        plot_unit_weights(clf, info[:2])
    plt.close("all")


def test_plot_head_scores():
    import matplotlib.pyplot as plt

    from skres.datasets import make_planted_heads
    from skres.interpretability import HeadRanker
    from skres.plotting import plot_head_scores

    X, dictionary, concept = make_planted_heads(
        100, n_heads=12, planted_heads=(5,), random_state=0
    )
    head_index = np.column_stack([np.repeat(np.arange(3), 4), np.tile(np.arange(4), 3)])
    ranker = HeadRanker(
        dictionary=dictionary,
        concept_ids=concept,
        n_atoms=5,
        top_k=2,
        head_index=head_index,
    ).fit(X)
    ax = plot_head_scores(ranker)
    grid = ax.images[0].get_array()
    assert grid.shape == (3, 4)
    np.testing.assert_allclose(grid[1, 1], ranker.scores_[5])
    assert len(ax.patches) == 2
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
    assert ax.get_title().startswith(f"T-MEX = {tmex.n_violations_} of 16")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Z_0", "Z_1", "Z_2", "Z_3"]
    assert len(ax.patches) == 4  # one outline per expected edge
    offsets = ax.collections[0].get_offsets()
    np.testing.assert_array_equal(np.asarray(offsets), [[1, 0]])  # the violation
    assert len(ax.texts) == 16
    with pytest.raises(ValueError, match="entries"):
        plot_pvalue_heatmap(tmex, latent_names=["a"])
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
