"""skres.dynamics: discovery and analysis of dynamical systems.

* :class:`MechanisticODE` discovers sparse ODEs with the linear-time mechanistic
  solver (Scalable Mechanistic Neural Networks) as integrator.
* :class:`PDEDiscoverer` discovers evolution PDEs from gridded data through the
  differentiable linear-PDE solver (Mechanistic PDE Networks).
* :class:`LatentVectorField` studies the latent-space dynamics of autoencoders:
  attractors, memorisation, priors and out-of-distribution detection.
"""

from ._integrate import SimulationWarning
from .mechanistic_ode import MechanisticODE
from .pde import PDEDiscoverer
from .vector_field import (
    AutoencoderHandle,
    LatentVectorField,
    MemorizationReport,
    deduplicate_attractors,
    ood_auroc_score,
)

__all__ = [
    "AutoencoderHandle",
    "LatentVectorField",
    "MechanisticODE",
    "MemorizationReport",
    "deduplicate_attractors",
    "ood_auroc_score",
    "PDEDiscoverer",
    "SimulationWarning",
]
