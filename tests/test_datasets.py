import numpy as np
import pytest

from skres.datasets import make_sparse_dictionary


def test_make_sparse_dictionary_structure():
    X, atoms, codes = make_sparse_dictionary(
        n_samples=200, n_features=8, n_atoms=20, n_active=2, offset=0.0, random_state=0
    )
    assert X.shape == (200, 8) and atoms.shape == (20, 8) and codes.shape == (200, 20)
    np.testing.assert_allclose(np.linalg.norm(atoms, axis=1), 1.0)
    assert (np.count_nonzero(codes, axis=1) == 2).all()
    assert codes.min() >= 0 and codes.max() <= 1.5
    np.testing.assert_allclose(X, codes @ atoms)


def test_make_sparse_dictionary_is_seeded_and_offset():
    a = make_sparse_dictionary(n_samples=50, offset=3.0, random_state=1)
    b = make_sparse_dictionary(n_samples=50, offset=3.0, random_state=1)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    X, atoms, codes = a
    np.testing.assert_allclose(np.linalg.norm((X - codes @ atoms)[0]), 3.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_active": 5, "n_atoms": 4}, "n_active=5 must not exceed n_atoms=4"),
        ({"n_samples": 0}, "n_samples must be a positive integer"),
        ({"noise": -1.0}, "noise must be a finite number >= 0"),
    ],
)
def test_make_sparse_dictionary_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_sparse_dictionary(**kwargs)
