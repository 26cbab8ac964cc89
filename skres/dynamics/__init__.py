"""skres.dynamics: latent-space dynamics of neural models."""

from .vector_field import (
    AutoencoderHandle,
    LatentVectorField,
    MemorizationReport,
    deduplicate_attractors,
    ood_auroc_score,
)

__all__: list[str] = [
    "AutoencoderHandle",
    "LatentVectorField",
    "MemorizationReport",
    "deduplicate_attractors",
    "ood_auroc_score",
]
