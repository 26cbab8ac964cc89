"""Simultaneous orthogonal matching pursuit, batched over independent problems.

SOMP picks, one at a time, the dictionary atoms that best explain *all* rows of a
data matrix at once: at each step the atom whose correlations with the current
residuals have the largest l1 norm over samples, followed by a least-squares refit
of the data on every atom chosen so far. Head Pursuit (Basile et al., NeurIPS 2025)
runs it on each attention head's residual writes with the unembedding as
dictionary.

This implementation keeps the correlations ``G = X D^T`` of the (centred) data with
the atoms, and represents the orthonormal basis ``Q`` of the chosen atoms only by its
inner products with the atoms (``Q D^T``) and with the data (``X Q^T``), updated by
Gram-Schmidt in float64 (as OMP implementations on the Gram matrix do). The residual
correlations after ``t`` atoms are ``G - (X Q^T)(Q D^T)``, a rank-one update per
step, so a step costs O((n + t) v) per problem plus one row of ``D D^T``, instead of
a least-squares solve in feature space; all problems (heads) advance together as one
batched tensor operation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validation import tensor_to_numpy

__all__ = ["SOMPResult", "somp"]


@dataclass
class SOMPResult:
    """Output of :func:`somp`, one row per problem.

    Attributes
    ----------
    support : ndarray of shape (n_problems, n_atoms), int
        Chosen atom indices (rows of the dictionary) in selection order.
    explained_variance_ratio : ndarray of shape (n_problems, n_atoms)
        Fraction of the (centred) data's total variance explained by the
        least-squares reconstruction after each step; non-decreasing, in [0, 1].
        Zero for problems with no variance.
    coef : ndarray of shape (n_problems, n_samples, n_atoms)
        Least-squares coefficients of each sample on the chosen atoms (normalised
        atoms when ``normalize_atoms``), in selection order.
    atom_weights : ndarray of shape (n_problems, n_atoms)
        l2 norm over samples of each chosen atom's coefficients.
    mean : ndarray of shape (n_problems, n_features)
        Per-problem mean that was removed (zeros without centring).
    """

    support: np.ndarray
    explained_variance_ratio: np.ndarray
    coef: np.ndarray
    atom_weights: np.ndarray
    mean: np.ndarray


def somp(
    X: Any,
    dictionary: Any,
    n_atoms: int = 50,
    *,
    center: bool = True,
    normalize_atoms: bool = True,
    atom_mask: Any = None,
    device: Any = None,
    dtype: torch.dtype = torch.float64,
    working_memory: float | None = None,
    verbose: int = 0,
) -> SOMPResult:
    """Simultaneous orthogonal matching pursuit of one or many data matrices.

    Parameters
    ----------
    X : array-like or torch.Tensor of shape (n_samples, n_features) or \
            (n_problems, n_samples, n_features)
        Data; each problem (e.g. each attention head) is pursued independently, in
        batches of problems sized by ``working_memory``.
    dictionary : array-like of shape (n_atoms_total, n_features)
        Atoms as rows (e.g. the unembedding matrix, or its concept rows).
    n_atoms : int, default=50
        Atoms to select; clipped to the number of usable atoms.
    center : bool, default=True
        Remove each problem's mean over samples first (explained variance is then
        variance around the mean).
    normalize_atoms : bool, default=True
        Scale atoms to unit norm (so selection does not favour long atoms).
    atom_mask : array-like of bool of shape (n_atoms_total,), default=None
        Atoms allowed to be chosen; zero-norm atoms are never chosen.
    device : str or torch.device, default=None
        Where to compute (``None``: the device of ``X`` if it is a tensor, else CPU).
    dtype : torch.dtype, default=torch.float64
        Precision of the computation (``torch.float32`` halves memory).
    working_memory : float, default=None
        Memory budget in MiB for the per-problem work arrays (about
        ``s (3 n_samples + n_atoms) * n_atoms_total`` bytes per problem, ``s`` the
        size of ``dtype`` (8 for float64): the
        correlations with every atom, and the chosen basis against every atom).
        Problems are pursued in consecutive batches that fit it (at least one
        problem per batch); results do not depend on it. ``None`` uses
        scikit-learn's ``working_memory`` setting (1024 MiB unless changed with
        :func:`sklearn.set_config`). The dictionary itself (one copy in ``dtype``)
        and the data come on top.
    verbose : int, default=0
        Show a progress bar over the selected atoms (per batch of problems) when > 0.

    Returns
    -------
    SOMPResult

    Examples
    --------
    >>> import numpy as np
    >>> from skres.solvers import somp
    >>> rng = np.random.default_rng(0)
    >>> D = rng.standard_normal((40, 8))
    >>> X = rng.standard_normal((30, 2)) @ D[[3, 17]]
    >>> result = somp(X, D, n_atoms=2)
    >>> sorted(result.support[0].tolist())
    [3, 17]
    >>> bool(result.explained_variance_ratio[0, -1] > 0.999)
    True
    """
    if device is None:
        device = X.device if isinstance(X, torch.Tensor) else torch.device("cpu")
    data, atoms = _somp_inputs(X, dictionary, device, dtype)
    if (
        isinstance(n_atoms, bool)
        or not isinstance(n_atoms, int | np.integer)
        or n_atoms < 1
    ):
        raise ValueError(f"n_atoms must be a positive integer; got {n_atoms!r}.")
    usable = _usable_atoms(atoms, atom_mask, normalize_atoms)
    k = min(int(n_atoms), int(usable.sum()))
    if k == 0:
        raise ValueError("no usable atom: the dictionary rows are all zero or masked.")
    n_problems, n_samples, _ = data.shape
    per_chunk = _problems_per_chunk(
        n_samples, k, atoms.shape[0], working_memory, n_problems, atoms.element_size()
    )
    # The atoms' Gram matrix, when small enough to keep (concept dictionaries).
    gram = atoms @ atoms.T if atoms.shape[0] <= 4096 else None
    parts = [
        _pursue(
            data[start : start + per_chunk], atoms, usable, k, center, gram, verbose
        )
        for start in range(0, n_problems, per_chunk)
    ]
    return SOMPResult(*(np.concatenate([part[i] for part in parts]) for i in range(5)))


def _somp_inputs(
    X: Any, dictionary: Any, device: Any, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validated copies in ``dtype``: data ``(P, n, d)`` and atoms ``(v, d)``."""
    # Copies: never share memory with (possibly read-only) caller arrays.
    data = torch.tensor(
        np.asarray(tensor_to_numpy(X), dtype=np.float64), device=device
    ).to(dtype)
    if data.ndim == 2:
        data = data[None]
    if data.ndim != 3 or 0 in data.shape:
        raise ValueError(
            "X must have shape (n_samples, n_features) or (n_problems, n_samples, "
            f"n_features) with no empty axis; got {tuple(data.shape)}."
        )
    atoms = torch.tensor(
        np.asarray(tensor_to_numpy(dictionary), dtype=np.float64), device=device
    ).to(dtype)
    if atoms.ndim != 2 or atoms.shape[1] != data.shape[2]:
        raise ValueError(
            f"dictionary must have shape (n_atoms, {data.shape[2]}) to match X; got "
            f"{tuple(atoms.shape)}."
        )
    if not (torch.isfinite(data).all() and torch.isfinite(atoms).all()):
        raise ValueError("X and dictionary must be finite (no NaN or infinity).")
    return data, atoms


def _usable_atoms(
    atoms: torch.Tensor, atom_mask: Any, normalize_atoms: bool
) -> torch.Tensor:
    """Mask of selectable atoms; normalises ``atoms`` in place when asked."""
    norms = atoms.norm(dim=1)
    usable = norms > 0
    if atom_mask is not None:
        mask = torch.as_tensor(
            np.asarray(tensor_to_numpy(atom_mask), dtype=bool), device=atoms.device
        )
        if mask.shape != usable.shape:
            raise ValueError(
                f"atom_mask must have shape ({atoms.shape[0]},); got "
                f"{tuple(mask.shape)}."
            )
        usable &= mask
    if normalize_atoms:  # in place: ``atoms`` is this call's own copy
        atoms /= norms.clamp_min(_tiny(atoms.dtype))[:, None]
    return usable


def _tiny(dtype: torch.dtype) -> float:
    """Floor of the divisions (1e-300 in float64, the smallest normal otherwise)."""
    return 1e-300 if dtype == torch.float64 else float(torch.finfo(dtype).tiny)


def _problems_per_chunk(
    n_samples: int,
    k: int,
    v: int,
    working_memory: float | None,
    n_problems: int,
    itemsize: int = 8,
) -> int:
    """How many problems fit the working-memory budget (at least one)."""
    if working_memory is None:
        from sklearn import get_config

        working_memory = get_config()["working_memory"]
    if (
        isinstance(working_memory, bool)
        or not isinstance(working_memory, int | float | np.integer | np.floating)
        or not working_memory > 0
    ):
        raise ValueError(
            f"working_memory must be a positive number of MiB; got {working_memory!r}."
        )
    # correlations, their absolute values, the initial correlations, the basis
    # against every atom, a few length-v rows; plus the (P, v) boolean mask.
    per_problem = itemsize * ((3 * n_samples + k + 6) * v + n_samples * k) + v
    return max(1, min(n_problems, int(working_memory * 2**20 // per_problem)))


def _pursue(
    data: torch.Tensor,
    atoms: torch.Tensor,
    usable: torch.Tensor,
    k: int,
    center: bool,
    gram: torch.Tensor | None,
    verbose: int = 0,
) -> tuple[np.ndarray, ...]:
    """SOMP on one batch of problems: the five :class:`SOMPResult` arrays."""
    mean = data.mean(dim=1, keepdim=True) if center else torch.zeros_like(data[:, :1])
    centred = data - mean
    support, explained, basis_atoms, basis_data = _greedy_steps(
        centred, atoms, usable, k, gram, verbose
    )
    coef = _refit(centred, atoms, support, basis_atoms, basis_data)
    return (
        support.cpu().numpy(),
        explained.clamp(0.0, 1.0).cpu().numpy(),
        coef.cpu().numpy(),
        coef.norm(dim=1).cpu().numpy(),
        mean[:, 0].cpu().numpy(),
    )


def _greedy_steps(
    centred: torch.Tensor,
    atoms: torch.Tensor,
    usable: torch.Tensor,
    k: int,
    gram: torch.Tensor | None,
    verbose: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ``k`` greedy selections with Gram-Schmidt through inner products only.

    Returns the support ``(P, k)``, the explained-variance curve ``(P, k)`` and the
    orthonormal basis ``Q`` of the chosen atoms as ``Q D^T`` ``(P, k, v)`` and
    ``X Q^T`` ``(P, n, k)``.
    """
    device, dtype = centred.device, centred.dtype
    tiny = _tiny(dtype)
    n_problems, n_samples, _ = centred.shape
    total = (centred**2).sum(dim=(1, 2))  # (P,)
    # Laid out (P, v, n) so the per-atom l1 norm reduces over contiguous memory.
    initial = atoms @ centred.transpose(1, 2)  # (P, v, n): (X D^T)^T, kept
    if not (torch.isfinite(total).all() and torch.isfinite(initial).all()):
        raise ValueError(
            f"X (or the dictionary) is too large for {str(dtype)[6:]}: its sums of "
            "squares "
            f"overflow (max |X - mean| = {float(centred.abs().max()):.3g}). Rescale X."
        )
    correlations = initial.clone()  # residual correlations (R D^T)^T, updated
    squared_norms = (atoms**2).sum(dim=1)  # (v,)
    blocked = (~usable).expand(n_problems, -1).clone()
    basis_atoms = torch.zeros(n_problems, k, atoms.shape[0], dtype=dtype, device=device)
    basis_data = torch.zeros(n_problems, n_samples, k, dtype=dtype, device=device)
    support = torch.zeros(n_problems, k, dtype=torch.long, device=device)
    explained = torch.zeros(n_problems, k, dtype=dtype, device=device)
    captured = torch.zeros(n_problems, dtype=dtype, device=device)
    rows = torch.arange(n_problems, device=device)
    steps: Any = range(k)
    if verbose:
        from tqdm.auto import tqdm

        steps = tqdm(steps, total=k, desc="somp", leave=False)
    for step in steps:
        scores = correlations.abs().sum(dim=2)
        scores.masked_fill_(blocked, -torch.inf)
        chosen = scores.argmax(dim=1)
        support[:, step] = chosen
        blocked[rows, chosen] = True
        # Gram-Schmidt of the new atom a against Q, through inner products only:
        # q = (a - Q^T c) / |a - Q^T c| with c = Q a, so that
        # q D^T = (a D^T - c^T Q D^T) / norm and X q = (X a - (X Q^T) c) / norm.
        coeff = basis_atoms[rows, :step, chosen]  # (P, step)
        gram_row = gram[chosen] if gram is not None else atoms[chosen] @ atoms.T
        norm2 = squared_norms[chosen] - (coeff**2).sum(dim=1)
        # An atom (numerically) in the span adds nothing: its basis row stays zero.
        valid = norm2 > 1e-10 * squared_norms[chosen]
        scale = torch.where(
            valid, norm2.clamp_min(tiny).rsqrt(), torch.zeros_like(norm2)
        )
        new_atoms = (
            gram_row - (coeff[:, None, :] @ basis_atoms[:, :step])[:, 0]
        ) * scale[:, None]
        new_data = (
            initial[rows, chosen]
            - (basis_data[:, :, :step] @ coeff[:, :, None])[..., 0]
        ) * scale[:, None]
        basis_atoms[:, step] = new_atoms
        basis_data[:, :, step] = new_data
        correlations.baddbmm_(new_atoms[:, :, None], new_data[:, None, :], alpha=-1)
        captured += (new_data**2).sum(dim=1)
        explained[:, step] = torch.where(
            total > 0, captured / total.clamp_min(tiny), torch.zeros_like(captured)
        )
    return support, explained, basis_atoms, basis_data


def _refit(
    centred: torch.Tensor,
    atoms: torch.Tensor,
    support: torch.Tensor,
    basis_atoms: torch.Tensor,
    basis_data: torch.Tensor,
) -> torch.Tensor:
    """Least-squares coefficients ``(P, n, k)`` of the data on the chosen atoms.

    ``W D_S = X Q^T Q``; since ``D_S = R^T Q`` with the upper-triangular
    ``R = Q D_S^T``, ``W = (X Q^T) R^{-T}``: one triangular solve, unless an atom
    fell in the span of earlier ones (``R`` singular), where lstsq is used.
    """
    k = support.shape[1]
    triangular = torch.gather(basis_atoms, 2, support[:, None, :].expand(-1, k, -1))
    diagonal = triangular.diagonal(dim1=1, dim2=2).abs()
    if bool((diagonal > 1e-8).all()):
        return torch.linalg.solve_triangular(
            triangular, basis_data.transpose(1, 2), upper=True
        ).transpose(1, 2)
    return torch.linalg.lstsq(
        atoms[support].transpose(1, 2), centred.transpose(1, 2)
    ).solution.transpose(1, 2)
