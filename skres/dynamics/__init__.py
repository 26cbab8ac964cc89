"""skres.dynamics: discovery and simulation of dynamical systems.

:class:`MechanisticODE` discovers sparse ODEs with the linear-time mechanistic
solver (Scalable Mechanistic Neural Networks) as integrator.
"""

from .mechanistic_ode import MechanisticODE

__all__ = ["MechanisticODE"]
