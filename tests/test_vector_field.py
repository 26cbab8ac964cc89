"""Tests of LatentVectorField: analytic maps pin the definitions (spec §1.6, 1-4)."""

from __future__ import annotations

import copy
import pickle
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from skres.dynamics import AutoencoderHandle, LatentVectorField
from skres.dynamics.vector_field import deduplicate_attractors


class _Map(torch.nn.Module):
    """A parameter-free module applying ``fn``."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def _lvf(decoder_fn, encoder=None, **params):
    handle = AutoencoderHandle(
        torch.nn.Identity() if encoder is None else encoder, _Map(decoder_fn)
    )
    params.setdefault("dtype", "float64")
    params.setdefault("device", "cpu")
    return LatentVectorField(model=handle, **params)


def _closed_form_n_iter(z0_norm, rho, tol):
    """First t >= 1 with ||v(z_t)||^2 = ((1 - rho) rho^t |z0|)^2 < tol."""
    t = 1
    while ((1 - rho) * rho**t * z0_norm) ** 2 >= tol:
        t += 1
    return t


# ------------------------------------------------------------ 1. single attractor
def test_half_map_n_iter_attractor_score_and_spectral_radius():
    lvf = _lvf(lambda z: 0.5 * z).fit([[4.0, 0.0]])
    expected = _closed_form_n_iter(4.0, 0.5, 1e-6)
    assert expected == 11
    assert lvf.n_iter_per_start_.tolist() == [expected]
    assert lvf.converged_.all()
    assert lvf.attractors_.shape == (1, 2)
    assert np.abs(lvf.attractors_).max() < 1e-3
    rho = lvf.jacobian_spectral_radius([[4.0, 0.0]])
    np.testing.assert_allclose(rho, 0.5, atol=1e-6)
    # Trajectory score against the attractor set {0}: fit on the fixed point itself.
    at_zero = _lvf(lambda z: 0.5 * z).fit([[0.0, 0.0]])
    np.testing.assert_array_equal(at_zero.attractors_, [[0.0, 0.0]])
    score = -at_zero.score_samples([[4.0, 0.0]])[0]
    expected_score = np.mean(4.0 * 0.5 ** np.arange(expected + 1))
    assert abs(score - expected_score) < 1e-6


@pytest.mark.parametrize(("rho", "z0", "tol"), [(0.3, 10.0, 1e-8), (0.9, 2.0, 1e-6)])
def test_linear_contraction_n_iter_other_rates(rho, z0, tol):
    lvf = _lvf(lambda z: rho * z, tol=tol).fit([[z0, 0.0, 0.0]])
    assert lvf.n_iter_per_start_[0] == _closed_form_n_iter(z0, rho, tol)


def test_fixed_horizon_trajectory_score_pads_with_end_point():
    lvf = _lvf(lambda z: 0.5 * z, horizon=20).fit([[0.0, 0.0]])
    n_iter = _closed_form_n_iter(4.0, 0.5, 1e-6)
    pts = 4.0 * 0.5 ** np.arange(n_iter + 1)
    expected = (pts.sum() + (20 - n_iter) * 4.0 * 0.5 ** (n_iter + 1)) / 21
    assert abs(-lvf.score_samples([[4.0, 0.0]])[0] - expected) < 1e-9


# --------------------------------------------------------------- 2. two attractors
Z_STAR = 0.9575040241


def test_tanh_two_attractors_and_basins():
    z0 = np.linspace(-3, 3, 101)
    z0 = z0[z0 != 0][:, None]
    assert len(z0) == 100
    lvf = _lvf(lambda z: torch.tanh(2 * z)).fit(z0)
    assert len(lvf.attractors_) == 2
    found = np.sort(lvf.attractors_[:, 0])
    np.testing.assert_allclose(found, [-Z_STAR, Z_STAR], atol=1e-4)
    signs = np.sign(lvf.attractors_[lvf.basin_labels_, 0])
    np.testing.assert_array_equal(signs, np.sign(z0[:, 0]))
    assert lvf.is_attractor([[0.0]]).tolist() == [False]
    assert lvf.is_attractor([[Z_STAR], [-Z_STAR]]).tolist() == [True, True]
    rho = lvf.jacobian_spectral_radius([[Z_STAR], [0.0]])
    np.testing.assert_allclose(rho, [0.1663720878, 2.0], atol=1e-6)
    # Basins of new points: the transform's basin column is the nearest attractor.
    feats = lvf.trajectory_features([[-0.5], [2.0]])
    basins = feats["basin"].to_numpy()
    assert np.sign(lvf.attractors_[basins, 0]).tolist() == [-1.0, 1.0]


def test_vector_field_values():
    lvf = _lvf(lambda z: torch.tanh(2 * z)).fit([[1.0]])
    Z = np.array([[-1.0], [0.0], [0.3]])
    np.testing.assert_allclose(lvf.vector_field(Z), np.tanh(2 * Z) - Z, atol=1e-12)


# --------------------------------------------------------- 3. stop rule and the cap
def test_non_converging_map_warns_and_caps():
    lvf = _lvf(lambda z: z + 1, max_iter=37)
    with pytest.warns(ConvergenceWarning, match="did not meet"):
        lvf.fit([[0.0, 0.0], [1.0, 2.0]])
    assert lvf.n_iter_per_start_.tolist() == [37, 37]
    assert not lvf.converged_.any()
    np.testing.assert_allclose(lvf.attractors_all_, [[37.0, 37.0], [38.0, 39.0]])


def test_divergence_gets_infinite_score():
    lvf = _lvf(lambda z: torch.where(z.abs() > 1e3, z * np.inf, 3 * z), max_iter=100)
    with pytest.warns(ConvergenceWarning, match="diverged"):
        lvf.fit([[1.0], [0.0]])
    assert lvf.diverged_.tolist() == [True, False]
    assert np.isinf(lvf.score_samples([[2.0]])).all()


# ----------------------------------------------------------------- 4. linear AEs
def _linear_pair(W1, W2):
    enc = torch.nn.Linear(W1.shape[1], W1.shape[0], bias=False, dtype=torch.float64)
    dec = torch.nn.Linear(W2.shape[1], W2.shape[0], bias=False, dtype=torch.float64)
    with torch.no_grad():
        enc.weight.copy_(torch.as_tensor(W1))
        dec.weight.copy_(torch.as_tensor(W2))
    return AutoencoderHandle(enc, dec)


@pytest.mark.parametrize("seed", [0, 1])
def test_contractive_linear_ae_has_only_the_origin(seed):
    rng = np.random.RandomState(seed)
    k, m = 3, 6
    Q, _ = np.linalg.qr(rng.randn(k, k))
    M = Q @ np.diag([0.8, -0.5, 0.3]) @ Q.T  # spectral radius 0.8
    W2 = rng.randn(m, k)
    W1 = M @ np.linalg.pinv(W2)  # E(D(z)) = W1 W2 z = M z
    lvf = LatentVectorField(model=_linear_pair(W1, W2), tol=1e-12).fit(
        rng.randn(50, m) * 3
    )
    assert len(lvf.attractors_) == 1
    assert np.abs(lvf.attractors_).max() < 1e-4
    np.testing.assert_allclose(lvf.jacobian_spectral_radius(rng.randn(4, k)), 0.8)


def test_projection_linear_ae_every_latent_is_fixed():
    rng = np.random.RandomState(0)
    k, m = 3, 5
    U, _ = np.linalg.qr(rng.randn(m, k))
    # E = U^T, D = U: f(z) = U^T U z = z, the PCA-optimal (isometric) case.
    lvf = LatentVectorField(model=_linear_pair(U.T, U))
    directions = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [1.0, 1.0, 0]])
    X = np.vstack([directions, 2.5 * directions]) @ U.T
    lvf.fit(X)
    np.testing.assert_allclose(lvf.vector_field(rng.randn(7, k)), 0.0, atol=1e-12)
    assert lvf.n_iter_per_start_.tolist() == [1] * len(X)
    assert len(lvf.attractors_) == len(directions)  # cosine rule: one per direction
    # Euclidean dedup separates points on the same ray.
    lvf_e = clone(lvf).set_params(dedup="euclidean").fit(X)
    assert len(lvf_e.attractors_) == len(X)


# ------------------------------------------------------------------ dedup kernel
@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 30),
    k=st.integers(1, 4),
    seed=st.integers(0, 2**16),
    rule=st.sampled_from(["cosine", "euclidean"]),
)
def test_dedup_partition_properties(n, k, seed, rule):
    Z = np.random.RandomState(seed).randn(n, k)
    A, labels = deduplicate_attractors(Z, threshold=0.95, radius=0.5, rule=rule)
    assert labels.min() == 0 and labels.max() == len(A) - 1
    # Every leader is its own group's member, and leaders are pairwise distinct.
    for j, a in enumerate(A):
        assert labels[np.flatnonzero((Z == a).all(1))[0]] == j
    if len(A) > 1:
        d = np.linalg.norm(A[:, None] - A[None], axis=2)
        assert (d[~np.eye(len(A), dtype=bool)] >= 0.5).all()
    # Members are close to their leader under the rule.
    dist = np.linalg.norm(Z - A[labels], axis=1)
    if rule == "euclidean":
        assert (dist < 0.5).all()
    else:
        cos = (Z * A[labels]).sum(1) / (
            np.linalg.norm(Z, axis=1) * np.linalg.norm(A[labels], axis=1)
        )
        assert ((dist < 0.5) | (cos > 0.95)).all()


def test_dedup_merges_the_origin_and_checks_order():
    A, labels = deduplicate_attractors([[0.0, 0.0], [1e-4, 0.0], [0.0, -1e-4]])
    assert len(A) == 1 and labels.tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="permutation"):
        deduplicate_attractors([[1.0], [2.0]], order=[0, 0])


@settings(max_examples=25, deadline=None)
@given(
    rho=st.floats(0.05, 0.95),
    z0=st.floats(0.01, 50.0),
    tol=st.sampled_from([1e-4, 1e-6, 1e-9]),
)
def test_iteration_matches_closed_form(rho, z0, tol):
    lvf = _lvf(lambda z: rho * z, tol=tol).fit([[z0]])
    assert lvf.n_iter_per_start_[0] == _closed_form_n_iter(z0, rho, tol)
    np.testing.assert_allclose(
        lvf.attractors_all_[0, 0], z0 * rho ** (lvf.n_iter_per_start_[0] + 1), rtol=1e-9
    )


# ------------------------------------------------------------------ handle, API
def test_handle_is_not_copied_by_clone_or_deepcopy():
    enc = torch.nn.Linear(3, 2)
    handle = AutoencoderHandle(enc, torch.nn.Linear(2, 3))
    lvf = LatentVectorField(model=handle)
    assert copy.deepcopy(handle) is handle
    assert clone(lvf).model is handle
    assert "Linear" in repr(handle)


def test_conv_shaped_latents_and_tuple_encoder():
    class Enc(torch.nn.Module):
        def forward(self, x):  # (n, 1, 2, 2) -> ((n, 2, 2), logvar)
            return 0.5 * x[:, 0], None

    class Dec(torch.nn.Module):
        def forward(self, z):
            assert z.shape[1:] == (2, 2)
            return z[:, None]

    handle = AutoencoderHandle(Enc(), Dec(), input_shape=(1, 2, 2))
    lvf = LatentVectorField(model=handle, dtype="float64", device="cpu").fit(
        np.ones((3, 4))
    )
    assert lvf.latent_shape_ == (2, 2) and lvf.n_latent_ == 4
    assert np.abs(lvf.attractors_).max() < 1e-2
    paths, lengths = lvf.trajectories(np.ones((2, 4)), max_len=5)
    assert paths.shape == (2, 6, 4) and lengths.tolist() == [6, 6]
    np.testing.assert_allclose(paths[0, :, 0], 0.5 * 0.5 ** np.arange(6))


def test_trajectories_pad_with_end_point():
    lvf = _lvf(lambda z: 0.5 * z, tol=1e-2).fit([[0.0]])
    paths, lengths = lvf.trajectories([[1.0]], max_len=10)
    n = _closed_form_n_iter(1.0, 0.5, 1e-2)
    assert lengths.tolist() == [n + 1]
    np.testing.assert_allclose(paths[0, : n + 1, 0], 0.5 ** np.arange(n + 1))
    np.testing.assert_allclose(paths[0, n + 1 :, 0], 0.5 ** (n + 1))


@pytest.mark.parametrize("hidden", [(), (8, 0), (8, 2.5)])
def test_bad_hidden(hidden):
    with pytest.raises(ValueError, match="hidden"):
        LatentVectorField(max_steps=1, hidden=hidden).fit(np.zeros((5, 3)))


def test_bad_inputs():
    X = np.random.RandomState(0).rand(10, 3)
    with pytest.raises(TypeError, match="model"):
        LatentVectorField(model=torch.nn.Identity()).fit(X)
    with pytest.raises(ValueError, match="NaN"):
        LatentVectorField(max_steps=1).fit(np.full((5, 3), np.nan))
    lvf = _lvf(lambda z: 0.5 * z).fit(X)
    with pytest.raises(ValueError, match="3 columns"):
        lvf.vector_field(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="features"):
        lvf.memorization_score(np.zeros((4, 5)))
    with pytest.raises(ValueError, match="distribution"):
        lvf.attractors_from_noise(5, distribution="cauchy")


def test_pickle_keeps_user_handle_outputs():
    lvf = LatentVectorField(  # lambdas do not pickle: identity modules do
        model=AutoencoderHandle(torch.nn.Identity(), torch.nn.Identity()), device="cpu"
    ).fit(np.eye(3))
    restored = pickle.loads(pickle.dumps(lvf))
    expected = lvf.transform(np.eye(3))
    np.testing.assert_array_equal(restored.transform(np.eye(3)), expected)


def test_no_warning_when_converged():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _lvf(lambda z: 0.5 * z).fit([[1.0, 1.0]])


def test_plot_latent_field():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skres.plotting import plot_latent_field

    z0 = np.random.RandomState(0).uniform(-2, 2, size=(30, 2))
    lvf = _lvf(lambda z: torch.tanh(2 * z)).fit(z0)
    ax = plot_latent_field(lvf, grid=10)
    stars = ax.collections[-1].get_offsets()
    np.testing.assert_allclose(
        np.sort(np.abs(np.asarray(stars)).ravel()), Z_STAR, atol=1e-3
    )
    with pytest.raises(ValueError, match="grid"):
        plot_latent_field(lvf, grid=1)
    one_d = _lvf(lambda z: 0.5 * z).fit([[1.0]])
    with pytest.raises(ValueError, match="2-D"):
        plot_latent_field(one_d)
    plt.close("all")


def test_probe_dictionary_exact_atoms_beat_random_basis():
    # Identity AE in 3-D; data on two axes; the attractors are those two axes.
    rng = np.random.RandomState(0)
    X = np.zeros((40, 3))
    X[:20, 0] = rng.uniform(1, 2, 20)
    X[20:, 1] = rng.uniform(1, 2, 20)
    lvf = LatentVectorField(
        model=AutoencoderHandle(torch.nn.Identity(), torch.nn.Identity()), device="cpu"
    ).fit(X)
    assert len(lvf.attractors_) == 2
    mse = lvf.probe_dictionary(X, 1, random_state=0)
    assert mse["attractors"] < 1e-12 < mse["random"]
    with pytest.raises(ValueError, match="n_nonzero_coefs"):
        lvf.probe_dictionary(X, 3)


# --------------------------------------------------- normalised latents in scores
def test_normalized_latents_trajectory_score_closed_form():
    # f(z) = 0.5 z + c has the attractor 2c; from z0: z_t = 2c + 0.5^t (z0 - 2c).
    c = torch.tensor([1.0, 0.0], dtype=torch.float64)
    lvf = _lvf(lambda z: 0.5 * z + c, normalize_latents=True).fit([[2.0, 0.0]])
    np.testing.assert_allclose(lvf.attractors_all_, [[2.0, 0.0]], atol=1e-12)
    z0 = np.array([2.0, 4.0])
    n_iter = _closed_form_n_iter(4.0, 0.5, 1e-6)
    pts = np.array([2.0, 0.0]) + 0.5 ** np.arange(n_iter + 1)[:, None] * (z0 - [2, 0])
    unit = pts / np.linalg.norm(pts, axis=1, keepdims=True)
    expected = np.linalg.norm(unit - [1.0, 0.0], axis=1)
    scores = lvf.ood_scores([z0], ["trajectory_mean", "initial_distance", "knn"])
    assert abs(scores["trajectory_mean"][0] - expected.mean()) < 1e-9
    assert abs(scores["initial_distance"][0] - expected[0]) < 1e-12
    assert abs(scores["knn"][0] - expected[0]) < 1e-12
    # Unnormalised, the same start scores the plain Euclidean distances.
    raw = clone(lvf).set_params(normalize_latents=False).fit([[2.0, 0.0]])
    plain = np.linalg.norm(pts - [2.0, 0.0], axis=1).mean()
    assert (
        abs(raw.ood_scores([z0], ["trajectory_mean"])["trajectory_mean"][0] - plain)
        < 1e-9
    )
    # A point on the attractor's ray is at distance 0 only when normalised.
    far = [[6.0, 0.0]]
    assert lvf.ood_scores(far, ["initial_distance"])["initial_distance"][0] < 1e-12
    assert raw.ood_scores(far, ["initial_distance"])["initial_distance"][0] == 4.0
    with pytest.raises(TypeError, match="normalize_latents"):
        clone(lvf).set_params(normalize_latents="yes").fit([[2.0, 0.0]])


# ------------------------------------------------- spectral radius: power vs exact
def test_power_iteration_spectral_radius_large_linear_latent():
    rng = np.random.RandomState(0)
    k, m = 300, 320
    Q, _ = np.linalg.qr(rng.randn(k, k))
    eig = np.r_[0.8, -0.6, rng.uniform(-0.5, 0.5, k - 2)]
    M = Q @ np.diag(eig) @ Q.T
    W2 = rng.randn(m, k)
    lvf = LatentVectorField(model=_linear_pair(M @ np.linalg.pinv(W2), W2), tol=1e-12)
    lvf.fit(rng.randn(5, m))
    Z = rng.randn(3, k)
    auto = lvf.jacobian_spectral_radius(Z, random_state=0)  # k > 256: power
    np.testing.assert_allclose(auto, 0.8, rtol=1e-6)
    exact = lvf.jacobian_spectral_radius(Z, method="exact")
    np.testing.assert_allclose(exact, 0.8, rtol=1e-9)
    with pytest.raises(ValueError, match="method"):
        lvf.jacobian_spectral_radius(Z, method="arnoldi")


def test_power_iteration_agrees_with_exact_on_a_trained_ae():
    X = np.random.RandomState(0).rand(200, 12)
    lvf = LatentVectorField(
        latent_dim=6,
        hidden=(32,),
        max_steps=150,
        random_state=0,
        device="cpu",
        dtype="float64",
    ).fit(X)
    Z = lvf.train_latents_[:40]
    exact = lvf.jacobian_spectral_radius(Z, method="exact")
    power = lvf.jacobian_spectral_radius(
        Z, method="power", n_power_iter=400, random_state=0
    )
    assert np.median(np.abs(power - exact) / exact) < 1e-4
    np.testing.assert_allclose(power, exact, rtol=2e-2)
    # Analytic maps keep their exact value under the power method too.
    half = _lvf(lambda z: 0.5 * z).fit([[4.0, 0.0]])
    np.testing.assert_allclose(
        half.jacobian_spectral_radius([[4.0, 0.0]], method="power"), 0.5, atol=1e-12
    )


# ------------------------------------------------------------ conv autoencoder
def test_conv_autoencoder_shapes_and_training():
    rng = np.random.RandomState(0)
    # 6 x 10 two-channel "images": odd sizes exercise the output padding.
    X = rng.rand(64, 2 * 6 * 10)
    lvf = LatentVectorField(
        autoencoder="conv",
        image_shape=(2, 6, 10),
        hidden=(4, 8),
        latent_dim=3,
        max_steps=60,
        batch_size=32,
        lr=1e-2,
        output_activation="sigmoid",
        max_iter=300,
        random_state=0,
        device="cpu",
        dtype="float64",
    ).fit(X)
    convs = [m for m in lvf.encoder_ if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [4, 8]
    assert lvf.n_latent_ == 3 and lvf.attractors_.shape[1] == 3
    assert lvf.decode_attractors().shape == (len(lvf.attractors_), 120)
    assert lvf.history_["loss"][-1] < lvf.history_["loss"][0]
    # A square one-channel image needs no image_shape.
    sq = LatentVectorField(
        autoencoder="conv",
        hidden=(4,),
        latent_dim=2,
        max_steps=5,
        device="cpu",
        random_state=0,
    ).fit(rng.rand(10, 16))
    assert sq.transform(rng.rand(3, 16)).shape == (3, 2)
    assert sq.trajectory_features(rng.rand(3, 16)).shape == (3, 2 * 2 + 6)
    with pytest.raises(ValueError, match="image_shape"):
        LatentVectorField(autoencoder="conv", max_steps=1).fit(rng.rand(5, 12))
    with pytest.raises(ValueError, match="image_shape"):
        LatentVectorField(autoencoder="conv", image_shape=(3, 5), max_steps=1).fit(
            rng.rand(5, 16)
        )
    with pytest.raises(ValueError, match="autoencoder"):
        LatentVectorField(autoencoder="resnet", max_steps=1).fit(rng.rand(5, 16))


def test_transform_is_latent_codes_and_trajectory_features_are_named():
    rng = np.random.RandomState(3)
    X = rng.rand(12, 4)
    lvf = LatentVectorField(
        hidden=(6,), latent_dim=3, max_steps=5, device="cpu", random_state=0
    ).fit(X)
    Z = lvf.transform(X)
    assert Z.shape == (12, 3) and Z.dtype == np.float64
    np.testing.assert_allclose(Z, lvf.train_latents_, atol=1e-12)
    names = lvf.get_feature_names_out()
    assert names.tolist() == [f"latentvectorfield{i}" for i in range(3)]
    assert lvf.set_output(transform="pandas").transform(X).columns.tolist() == list(
        names
    )
    feats = lvf.trajectory_features(X)
    assert feats.columns.tolist() == [
        *(f"z0_{i}" for i in range(3)),
        *(f"zstar_{i}" for i in range(3)),
        "basin",
        "n_iter",
        "final_distance",
        "attractor_distance",
        "trajectory_distance",
        "residual",
    ]
    np.testing.assert_allclose(feats[["z0_0", "z0_1", "z0_2"]].to_numpy(), Z)
    assert (feats["n_iter"] >= 1).all() and np.isfinite(feats.to_numpy()).all()
    assert not hasattr(lvf, "n_iters_")
    assert lvf.n_iter_per_start_.shape == (len(lvf.attractor_indices_),)
    assert lvf.n_iter_ == lvf.n_iter_per_start_.max()
