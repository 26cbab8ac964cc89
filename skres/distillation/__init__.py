"""skres.distillation: model distillation and size interpolation."""

from ._layers import TinyGPT, boomerang_cutoffs, boomerang_layer_map, boomerang_loss
from .boomerang import BoomerangDistiller

__all__: list[str] = [
    "BoomerangDistiller",
    "TinyGPT",
    "boomerang_cutoffs",
    "boomerang_layer_map",
    "boomerang_loss",
]
