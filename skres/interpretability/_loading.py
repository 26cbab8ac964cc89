"""Load a GGUF causal language model offline, with a fast local cache.

The cache holds one folder per converted model, named after a key of everything
the conversion depends on: the sha256 of the GGUF file, the dtype and the versions
of transformers, gguf and torch. A folder is written under a temporary name and
renamed into place only when complete; its last file, ``skres-cache.json``, holds
the key and the sha256 of every other file. A folder without that marker, with
another key, with files it does not list or with a file whose digest changed is
never loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from ..utils._cache import (
    ChecksumError,
    UnsafeCacheError,
    ensure_cache_dir,
    open_no_follow,
    sha256_file,
)

__all__ = ["load_gguf_causal_lm"]

_MARKER = "skres-cache.json"
_FORMAT = 1  # bump when the layout of a cache folder changes


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cache_key(gguf_path: Path, dtype: Any) -> str:
    """sha256 of the GGUF file's digest, the dtype and the converting versions."""
    import torch

    parts = {
        "format": _FORMAT,
        "gguf_sha256": sha256_file(gguf_path),
        "dtype": str(dtype),
        "transformers": _version("transformers"),
        "gguf": _version("gguf"),
        "torch": torch.__version__,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _entry_name(gguf_file: str, key: str) -> str:
    safe = (c if c.isalnum() or c in "-_." else "_" for c in Path(gguf_file).stem)
    stem = "".join(safe)
    return f"{stem.lstrip('.')[:80]}-{key[:16]}"


def _convert(directory: Path, gguf_file: str, dtype: Any) -> tuple[Any, Any]:
    """De-quantise the GGUF file with transformers; a plain model and tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(
        directory, gguf_file=gguf_file, dtype=dtype
    )
    plain = type(model)(model.config)
    plain.load_state_dict(model.state_dict())
    return plain.to(dtype), tokenizer


def _load_folder(folder: Path, dtype: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(
        folder, dtype=dtype, use_safetensors=True, local_files_only=True
    )
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return model, tokenizer


def _verify_entry(entry: Path, key: str) -> None:
    """Raise unless ``entry`` is a complete cache folder written for ``key``."""
    ensure_cache_dir(entry.parent, entry.name, create=False)  # link / owner checks
    marker = entry / _MARKER
    try:
        with open_no_follow(marker) as fh:
            record = json.loads(fh.read(1 << 20))
    except (OSError, ValueError) as exc:
        raise UnsafeCacheError(
            f"{entry} exists but is not a complete skres cache folder (no readable "
            f"{_MARKER}: {exc}); it was not loaded. Remove it and retry."
        ) from exc
    if not isinstance(record, dict) or record.get("key") != key:
        raise UnsafeCacheError(
            f"{entry} was written for another GGUF file, dtype or library version "
            f"(its {_MARKER} holds another key); it was not loaded. Remove it."
        )
    files = record.get("files")
    if not isinstance(files, dict):
        raise UnsafeCacheError(f"{marker} lists no files; {entry} was not loaded.")
    present = {p.name for p in entry.iterdir()} - {_MARKER}
    if present != set(files):
        raise UnsafeCacheError(
            f"{entry} holds files its {_MARKER} does not list, or lacks listed ones "
            f"({sorted(present ^ set(files))}); it was not loaded. Remove it."
        )
    for name, digest in files.items():
        actual = sha256_file(entry / name)
        if actual != digest:
            raise ChecksumError(
                f"{entry / name} has sha256 {actual}, not the {digest} recorded when "
                f"it was cached; {entry} was not loaded. Remove it to convert again."
            )


def _write_entry(model: Any, tokenizer: Any, root: Path, entry: Path, key: str) -> None:
    """Save into a temporary folder of ``root`` and rename it to ``entry``."""
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".staging-"))
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        files = {}
        for path in sorted(staging.iterdir()):
            if not path.is_file() or path.is_symlink():
                raise UnsafeCacheError(f"unexpected non-file {path} in a new entry.")
            files[path.name] = sha256_file(path)
        with open(staging / _MARKER, "w", encoding="utf-8") as fh:
            json.dump({"key": key, "files": files}, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.rename(staging, entry)  # atomic; fails if entry exists and is not empty
        except OSError as exc:
            if not os.path.lexists(entry):
                raise
            # Another process may have written the same entry first: use it only if
            # it verifies; anything else there is reported, not overwritten.
            try:
                _verify_entry(entry, key)
            except (UnsafeCacheError, ChecksumError) as bad:
                raise bad from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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
    saves it (safetensors) with its tokenizer in a folder of ``cache_dir`` named
    after a key of the GGUF file's sha256, the dtype and the versions of
    transformers, gguf and torch; later loads with the same key read that folder
    with ``from_pretrained`` in about a second. The folder is written under a
    temporary name and renamed when complete, and a marker file in it holds the key
    and the sha256 of every file, checked at every load. Nothing is downloaded.

    Parameters
    ----------
    directory : path
        Folder holding the GGUF file.
    gguf_file : str
        File name inside ``directory``.
    cache_dir : path, default=None
        Folder for the de-quantised copies (created with mode 0o700); no cache
        when ``None``.
    dtype : torch.dtype, default=None
        Weights' dtype (float32 when ``None``).

    Returns
    -------
    model : transformers.PreTrainedModel
        In ``eval()`` mode.
    tokenizer : transformers.PreTrainedTokenizerBase

    Raises
    ------
    FileNotFoundError
        If there is no ``gguf_file`` in ``directory``.
    skres.utils.UnsafeCacheError
        If the cache folder for this key exists but is incomplete, was written for
        another key or holds unlisted files, or if ``cache_dir`` or the folder is
        a symbolic link or belongs to another user. Nothing is overwritten.
    skres.utils.ChecksumError
        If a cached file's sha256 differs from the one recorded when it was saved.

    Examples
    --------
    >>> from skres.interpretability import load_gguf_causal_lm
    >>> load_gguf_causal_lm("/nonexistent", "model.gguf")
    Traceback (most recent call last):
    ...
    FileNotFoundError: no GGUF file 'model.gguf' in '/nonexistent'.
    """
    import torch

    dtype = torch.float32 if dtype is None else dtype
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype or None, got {dtype!r}.")
    gguf_path = Path(directory) / gguf_file
    if not gguf_path.is_file():
        raise FileNotFoundError(f"no GGUF file {gguf_file!r} in {str(directory)!r}.")
    if cache_dir is None:
        model, tokenizer = _convert(Path(directory), gguf_file, dtype)
        return model.eval(), tokenizer
    key = _cache_key(gguf_path, dtype)
    root = ensure_cache_dir(cache_dir)
    entry = root / _entry_name(gguf_file, key)
    if os.path.lexists(entry):
        _verify_entry(entry, key)
        model, tokenizer = _load_folder(entry, dtype)
        return model.eval(), tokenizer
    model, tokenizer = _convert(Path(directory), gguf_file, dtype)
    _write_entry(model, tokenizer, root, entry, key)
    return model.eval(), tokenizer
