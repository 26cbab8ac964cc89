"""Load a GGUF causal language model offline, with a fast local cache."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any


def load_gguf_causal_lm(
    directory: str | os.PathLike[str],
    gguf_file: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    dtype: Any = None,
) -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer from a local GGUF file.

    ``transformers`` de-quantises GGUF weights in Python (tens of seconds for a
    135M-parameter model) and cannot save the result. With ``cache_dir`` the first
    load copies the de-quantised weights into a plain model of the same config and
    saves it there with its tokenizer; later loads read that folder with
    ``from_pretrained`` in about a second. Nothing is downloaded.

    Parameters
    ----------
    directory : path
        Folder holding the GGUF file.
    gguf_file : str
        File name inside ``directory``.
    cache_dir : path, default=None
        Where to keep the de-quantised copy; no cache when ``None``.
    dtype : torch.dtype, default=None
        Weights' dtype (float32 when ``None``).

    Returns
    -------
    model : transformers.PreTrainedModel
        In ``eval()`` mode.
    tokenizer : transformers.PreTrainedTokenizerBase
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = torch.float32 if dtype is None else dtype
    if cache_dir is not None and (Path(cache_dir) / "config.json").exists():
        model = AutoModelForCausalLM.from_pretrained(cache_dir, dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(cache_dir)
        return model.eval(), tokenizer
    if not (Path(directory) / gguf_file).exists():
        raise FileNotFoundError(f"no GGUF file {gguf_file!r} in {directory!r}.")
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(
        directory, gguf_file=gguf_file, dtype=dtype
    )
    if cache_dir is not None:
        plain = type(model)(model.config)
        plain.load_state_dict(model.state_dict())
        plain.to(dtype)
        target = Path(cache_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".staging-"))
        try:
            plain.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            try:
                staging.rename(target)  # atomic; another process may have won
            except OSError:
                pass
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        model = plain
    return model.eval(), tokenizer
