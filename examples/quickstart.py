"""
Quick start: a sparse autoencoder in a scikit-learn pipeline
============================================================

Samples are sparse non-negative combinations of 64 hidden unit-norm atoms in 32
dimensions. A TopK sparse autoencoder inside an ordinary ``Pipeline`` recovers the
atoms and explains most of the variance with 4 active codes per sample.
"""

import time

import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skres.causal import SparseAutoencoder
from skres.datasets import make_sparse_dictionary

X, atoms, codes = make_sparse_dictionary(n_samples=20_000, random_state=0)

pipe = make_pipeline(
    StandardScaler(),
    SparseAutoencoder(n_components=128, k=4, lr=1e-3, max_epochs=30, random_state=0),
)
start = time.perf_counter()
with threadpool_limits(1):  # small matrices: one thread is fastest
    Z = pipe.fit_transform(X)
elapsed = time.perf_counter() - start

sae = pipe[-1]
# The SAE sees standardised data, so compare its atoms with the standardised ones.
scaled_atoms = atoms / pipe[0].scale_
scaled_atoms /= np.linalg.norm(scaled_atoms, axis=1, keepdims=True)
cosine = scaled_atoms @ sae.components_.T
print(f"fit time            : {elapsed:.1f} s on {sae.device_}")
print(f"codes               : {Z.shape}, max active per row {(Z > 0).sum(1).max()}")
print(f"variance explained  : {pipe.score(X):.3f}")
print(f"atoms recovered     : {(cosine.max(axis=1) > 0.9).mean():.0%} at cosine > 0.9")
