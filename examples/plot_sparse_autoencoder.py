"""
Sparse autoencoders: why the pre-encoder bias matters
=====================================================

Foundation-model activations share a large common offset. A sparse autoencoder that
encodes the raw input spends atoms on that offset: a few "mean carrier" atoms fire on
every sample while most atoms die. Subtracting a pre-encoder bias initialised at the
data mean (the skres default) removes the problem (Mencattini, Cadei & Locatello,
ICLR 2026, and its replication notes).
"""

import matplotlib.pyplot as plt
import numpy as np
from threadpoolctl import threadpool_limits

from skres.causal import SparseAutoencoder
from skres.datasets import make_sparse_dictionary
from skres.plotting import plot_training_history

X, atoms, _ = make_sparse_dictionary(n_samples=10_000, offset=10.0, random_state=1)

fits = {}
with threadpool_limits(1):
    for pre_bias in ("mean", False):
        fits[pre_bias] = SparseAutoencoder(
            n_components=128,
            k=4,
            lr=1e-3,
            max_epochs=15,
            pre_bias=pre_bias,
            random_state=0,
        ).fit(X)

fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
for pre_bias, sae in fits.items():
    rate = np.sort((sae.transform(X) > 0).mean(axis=0))[::-1]
    label = (
        f"pre_bias={pre_bias!r}: FVE {sae.score(X):.2f}, dead {sae.dead_mask_.sum()}"
    )
    axes[0].plot(rate, label=label)
    axes[1].plot(sae.history_["fve"], label=f"pre_bias={pre_bias!r}")
axes[0].set(
    xlabel="atom (sorted)",
    ylabel="firing rate",
    yscale="log",
    title="How often each atom fires",
)
axes[0].legend(fontsize=8)
axes[1].set(
    xlabel="epoch", ylabel="fraction of variance explained", title="Training curve"
)
axes[1].legend(fontsize=8)

# The per-epoch history of the default fit, with the built-in plot helper.
plot_training_history(fits["mean"], ("mse", "l0", "n_dead"))
plt.show()
