"""
ResiDual: reweighting the principal components of residual units
=================================================================

A vision transformer's output is the sum of its residual units (heads, MLPs,
embedding). When only a few units carry the class signal, and in low-variance
directions, the zero-shot cosine classifier is swamped by nuisance. ResiDual
(Basile, Maiorca et al., TMLR 2025) learns one weight per principal component of
each unit, a few hundred numbers, and recovers the class.

The first part uses planted units with the geometry of the skres acceptance tests;
the second extracts the units of a (tiny, randomly initialised) Hugging Face CLIP
vision model and checks that they add up to its image embedding.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from threadpoolctl import threadpool_limits

from skres.datasets import make_residual_units
from skres.interpretability import ResiDualAligner, extract_residual_units
from skres.plotting import plot_unit_weights

X, y, text = make_residual_units(2000, random_state=1)
X_test, y_test, _ = make_residual_units(2000, random_state=3)
X_pca, _, _ = make_residual_units(3000, random_state=4)

z = X_test.sum(axis=1)
zero_shot = ((z @ text.T).argmax(axis=1) == y_test).mean()
print(f"zero-shot (cosine with the class embeddings): {zero_shot:.3f}")

models = {
    "ResiDual (all components)": {},
    "ResiDual, variance 0.99": {"variance_threshold": 0.99},
    "ResiDual, variance 0.9": {"variance_threshold": 0.9},
    "coarse (one weight per unit)": {"granularity": "unit"},
}
fitted = {}
with threadpool_limits(1):
    for name, params in models.items():
        clf = ResiDualAligner(class_embeddings=text, random_state=0, **params)
        fitted[name] = clf.fit(X, y, X_pca=X_pca)
        print(
            f"{name:32s} {clf.n_params_:4d} weights  "
            f"test accuracy {clf.score(X_test, y_test):.3f}"
        )

fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), layout="constrained")
plot_unit_weights(fitted["ResiDual (all components)"], ax=axes[0])
axes[0].set_title("Units 0 and 1 carry the class")
names = ["zero-shot", *models]
scores = [zero_shot, *(fitted[n].score(X_test, y_test) for n in models)]
axes[1].barh(names, scores, color=["0.6", "C0", "C0", "C3", "C1"])
axes[1].set_xlim(0, 1)
axes[1].set_xlabel("test accuracy")
axes[1].invert_yaxis()

# %%
# Residual units of a Hugging Face CLIP vision model
# --------------------------------------------------
# ``extract_residual_units`` hooks the attention output projections and MLPs,
# linearises the final LayerNorm and applies the visual projection, so the units
# add up exactly to ``image_embeds``. Real models load with ``from_pretrained`` from
# a local folder; here a tiny random one stands in.
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

config = CLIPVisionConfig(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=3,
    num_attention_heads=4,
    image_size=32,
    patch_size=8,
    projection_dim=48,
)
model = CLIPVisionModelWithProjection(config).eval()
images = torch.randn(8, 3, 32, 32)
units, unit_info = extract_residual_units(model, images)
embeds = model(pixel_values=images).image_embeds.detach().numpy()
print(
    f"units {units.shape}; max |sum of units - image_embeds| = "
    f"{np.abs(units.sum(axis=1) - embeds).max():.1e}"
)
plt.show()
