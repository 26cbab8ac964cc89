"""skres.solvers.somp: spec heads_residual.md §7 A1-A6 (and property tests)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from skres.solvers import somp


def brute_force_somp(X, D, k, center=True):
    """Textbook SOMP: l1 scores of residual correlations, full least-squares refit."""
    X = X - X.mean(axis=0) if center else X
    D = D / np.linalg.norm(D, axis=1, keepdims=True)
    support, evr, residual = [], [], X.copy()
    total = (X**2).sum()
    for _ in range(k):
        scores = np.abs(residual @ D.T).sum(axis=0)
        scores[support] = -np.inf
        support.append(int(np.argmax(scores)))
        W = np.linalg.lstsq(D[support].T, X.T, rcond=None)[0]
        residual = X - W.T @ D[support]
        evr.append(1 - (residual**2).sum() / total)
    return support, np.array(evr)


def planted(seed, n=200, d=64, v=500, s=5, noise=0.05):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((v, d))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    S = rng.choice(v, s, replace=False)
    W = rng.standard_normal((n, s)) * np.linspace(3, 1, s)
    X = W @ D[S] + noise * rng.standard_normal((n, d)) + 2.0 * rng.standard_normal(d)
    return X, D, S


def test_a1_planted_support_recovered():
    recovered, last_evr = 0, []
    for seed in range(20):
        X, D, S = planted(seed)
        result = somp(X, D, 5)
        recovered += set(result.support[0]) == set(S)
        last_evr.append(result.explained_variance_ratio[0, -1])
    assert recovered >= 19
    assert min(last_evr) >= 0.99


def test_a1_batched_problems_equal_one_at_a_time():
    problems = [planted(seed) for seed in range(4)]
    X = np.stack([p[0] for p in problems])
    D = problems[0][1]
    batched = somp(X, D, 6)
    for i in range(4):
        single = somp(X[i], D, 6)
        np.testing.assert_array_equal(batched.support[i], single.support[0])
        np.testing.assert_allclose(
            batched.explained_variance_ratio[i],
            single.explained_variance_ratio[0],
            atol=1e-12,
        )


def test_a2_equals_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(10):
        X = rng.standard_normal((50, 16))
        D = rng.standard_normal((40, 16))
        support, evr = brute_force_somp(X, D, 8)
        result = somp(X, D, 8)
        assert result.support[0].tolist() == support
        assert np.abs(result.explained_variance_ratio[0] - evr).max() <= 1e-8
        # coefficients are the least-squares fit on the chosen (normalised) atoms
        Dn = D / np.linalg.norm(D, axis=1, keepdims=True)
        Xc = X - X.mean(axis=0)
        W = np.linalg.lstsq(Dn[support].T, Xc.T, rcond=None)[0].T
        np.testing.assert_allclose(result.coef[0], W, atol=1e-8)
        np.testing.assert_allclose(result.atom_weights[0], np.linalg.norm(W, axis=0))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(2, 30),
    d=st.integers(2, 10),
    v=st.integers(2, 25),
    k=st.integers(1, 12),
)
def test_a3_evr_is_monotone_and_bounded(seed, n, d, v, k):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    D = rng.standard_normal((v, d))
    evr = somp(X, D, k).explained_variance_ratio[0]
    assert evr.shape == (min(k, v),)
    assert np.all(np.diff(evr) >= -1e-12)
    assert evr.min() >= 0 and evr.max() <= 1 + 1e-9


def test_a3_full_rank_dictionary_explains_everything():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 12))
    D = rng.standard_normal((30, 12))
    assert somp(X, D, 12).explained_variance_ratio[0, -1] >= 1 - 1e-8


def test_a4_invariances():
    X, D, _ = planted(3)
    ref = somp(X, D, 5)
    for transformed in (
        3.5 * X,
        X + 7.0,
        X[np.random.default_rng(0).permutation(len(X))],
    ):
        other = somp(transformed, D, 5)
        np.testing.assert_array_equal(other.support, ref.support)
        np.testing.assert_allclose(
            other.explained_variance_ratio, ref.explained_variance_ratio, atol=1e-9
        )
    perm = np.random.default_rng(1).permutation(len(D))
    permuted = somp(X, D[perm], 5)
    np.testing.assert_array_equal(perm[permuted.support], ref.support)
    scales = np.random.default_rng(2).uniform(0.1, 10, len(D))[:, None]
    np.testing.assert_array_equal(somp(X, D * scales, 5).support, ref.support)


def test_a5_first_step_is_the_logit_lens():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 16))
    D = rng.standard_normal((60, 16))
    first = somp(x, D, 1, center=False).support[0, 0]
    Dn = D / np.linalg.norm(D, axis=1, keepdims=True)
    assert first == np.argmax(np.abs(Dn @ x[0]))


def test_a6_edge_cases():
    D = np.random.default_rng(5).standard_normal((10, 4))
    constant = somp(np.ones((8, 4)), D, 3)
    assert np.all(constant.explained_variance_ratio == 0)
    assert np.all(np.isfinite(constant.coef))
    assert somp(
        np.random.default_rng(6).standard_normal((8, 4)), D, 50
    ).support.shape == (1, 10)
    D_zero = D.copy()
    D_zero[2] = 0
    assert (
        2
        not in somp(
            np.random.default_rng(7).standard_normal((8, 4)), D_zero, 9
        ).support[0]
    )
    masked = somp(
        np.random.default_rng(8).standard_normal((8, 4)),
        D,
        3,
        atom_mask=np.arange(10) >= 5,
    )
    assert masked.support.min() >= 5


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((np.zeros((3,)), np.eye(3), 2), "X must have shape"),
        (
            (np.zeros((3, 2)), np.eye(3), 2),
            r"dictionary must have shape \(n_atoms, 2\)",
        ),
        ((np.full((3, 3), np.nan), np.eye(3), 2), "finite"),
        ((np.zeros((3, 3)), np.eye(3), 0), "n_atoms must be a positive integer"),
        ((np.zeros((3, 3)), np.zeros((4, 3)), 2), "no usable atom"),
    ],
)
def test_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        somp(*args)


def test_tensor_input_and_device():
    X, D, S = planted(0)
    result = somp(torch.tensor(X, requires_grad=True), torch.tensor(D), 5)
    assert set(result.support[0]) == set(S)


# --- bounded memory: problems pursued in chunks (issue 23) ----------------------------
@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_problems=st.integers(1, 7),
    k=st.integers(1, 6),
    center=st.booleans(),
)
def test_chunked_equals_one_batch(seed, n_problems, k, center):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((300, 16))
    D[rng.choice(300, 5, replace=False)] *= 4.0  # unequal norms
    X = rng.standard_normal((n_problems, 12, 3)) @ D[rng.choice(300, 3)]
    X += 0.1 * rng.standard_normal(X.shape)
    one = somp(X, D, k, center=center, working_memory=1024)
    tiny = somp(X, D, k, center=center, working_memory=1e-6)  # one problem a chunk
    np.testing.assert_array_equal(one.support, tiny.support)
    for name in ("explained_variance_ratio", "coef", "atom_weights", "mean"):
        np.testing.assert_allclose(
            getattr(one, name), getattr(tiny, name), rtol=1e-9, atol=1e-12
        )


def test_chunk_size_follows_the_budget_and_sklearn_config():
    import sklearn

    from skres.solvers.pursuit import _problems_per_chunk

    per_problem = 8 * ((3 * 32 + 50 + 6) * 49_152 + 32 * 50) + 49_152
    assert _problems_per_chunk(32, 50, 49_152, 1024, 270) == 2**30 // per_problem
    assert _problems_per_chunk(32, 50, 49_152, 1e-3, 270) == 1
    assert _problems_per_chunk(32, 50, 100, 1024, 270) == 270
    with sklearn.config_context(working_memory=64):
        assert _problems_per_chunk(32, 50, 49_152, None, 270) == (
            64 * 2**20 // per_problem
        )
    for bad in (0, -1.0, "1", True, float("nan")):
        with pytest.raises(ValueError, match="working_memory"):
            somp(np.ones((2, 3, 3)), np.eye(3), 1, working_memory=bad)
