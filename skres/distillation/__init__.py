"""skres.distillation: model distillation and size interpolation."""

from ._hf import hf_decoder_to_stack
from ._layers import TinyGPT, boomerang_cutoffs, boomerang_layer_map, boomerang_loss
from .boomerang import BoomerangDistiller

__all__: list[str] = [
    "BoomerangDistiller",
    "TinyGPT",
    "boomerang_cutoffs",
    "boomerang_layer_map",
    "boomerang_loss",
    "hf_decoder_to_stack",
]
