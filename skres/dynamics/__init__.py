"""skres.dynamics: latent-space dynamics of neural models."""

from .vector_field import AutoencoderHandle, LatentVectorField, MemorizationReport

__all__: list[str] = ["AutoencoderHandle", "LatentVectorField", "MemorizationReport"]
