"""Synthetic data generators reproducing the settings of the papers behind skres.

Each ``make_*`` function takes ``random_state`` and returns numpy arrays, following
the conventions of :mod:`sklearn.datasets`.
"""

from ._dictionary import make_sparse_dictionary
from ._heads import make_planted_heads
from ._measurement import (
    make_contaminated_proxy,
    make_linear_gaussian_scm,
    make_measurement_model,
)
from ._ode import make_lorenz
from ._pde import make_advection_diffusion, make_burgers, make_reaction_diffusion
from ._pde_spectral import (
    make_fisher_kpp,
    make_heat_source,
    make_kdv,
    make_kuramoto_sivashinsky,
    make_navier_stokes_vorticity,
)
from ._ppci import make_causal_digits, make_visible_treatment
from ._residual import make_residual_units
from ._sem import generalized_normal_psi, make_shifted_sem
from ._text import CorpusFallbackWarning, get_cache_dir, load_shakespeare
from ._trials import (
    make_embedding_trial,
    make_leaky_gaussian_trial,
    make_paradox_trial,
    make_sparse_code_trial,
)

__all__ = [
    "generalized_normal_psi",
    "make_causal_digits",
    "make_contaminated_proxy",
    "make_embedding_trial",
    "make_leaky_gaussian_trial",
    "make_linear_gaussian_scm",
    "make_fisher_kpp",
    "make_heat_source",
    "make_kdv",
    "make_kuramoto_sivashinsky",
    "make_lorenz",
    "make_navier_stokes_vorticity",
    "make_measurement_model",
    "make_paradox_trial",
    "make_planted_heads",
    "make_residual_units",
    "make_shifted_sem",
    "make_sparse_code_trial",
    "make_sparse_dictionary",
    "make_visible_treatment",
    "CorpusFallbackWarning",
    "get_cache_dir",
    "load_shakespeare",
    "make_advection_diffusion",
    "make_burgers",
    "make_reaction_diffusion",
]
