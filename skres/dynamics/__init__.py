"""skres.dynamics: see the README's estimator table for what is planned here."""

__all__: list[str] = []
