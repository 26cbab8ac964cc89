"""Tokens and token windows of :class:`~skres.distillation.BoomerangDistiller`.

One fitted object turns the estimator's inputs into token id sequences: text per
character (one vocabulary over every document of a fit), per UTF-8 byte or through a
callable (a Hugging Face tokenizer works), arrays of non-negative integers as token
ids, and other numeric arrays quantised into ``n_bins`` quantile bins. The functions
cut the encoded sequences into evaluation windows, draw random training windows and
mask padding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

__all__ = ["_Tokenizer", "eval_windows", "pad_masks", "window_sampler"]


class _Tokenizer:
    """Token ids of text or arrays, with a vocabulary fitted on the training data.

    Parameters
    ----------
    tokenizer : {"auto", "char", "byte"} or callable, default="auto"
        How text is split: per character (``"auto"``/``"char"``), per UTF-8 byte,
        or by a callable ``str -> list of int`` (or returning a mapping with
        ``"input_ids"``, as a Hugging Face tokenizer does).
    n_bins : int, default=32
        Quantile bins for real-valued arrays.

    Attributes
    ----------
    mode_ : {"char", "byte", "callable", "ids", "quantile"}
        What the fit data was and how it is encoded.
    vocab_size_ : int
        Number of token ids (widened to the teacher's by :meth:`match_teacher`
        for token ids and callables).
    vocab_ : list of str
        Sorted characters of every fit document (``"char"`` mode only).
    bin_edges_ : ndarray
        Inner quantile edges (``"quantile"`` mode only).

    Examples
    --------
    >>> from skres.distillation._tokenizer import _Tokenizer
    >>> tok = _Tokenizer().fit(["abc", "cd"])
    >>> tok.vocab_, tok.encode("dab").tolist()
    (['a', 'b', 'c', 'd'], [3, 0, 1])
    >>> tok.decode([3, 0, 1])
    'dab'
    """

    def __init__(self, tokenizer: Any = "auto", n_bins: int = 32) -> None:
        self.tokenizer = tokenizer
        self.n_bins = n_bins

    # ------------------------------------------------------------------ fit
    def fit(self, data: list[str] | np.ndarray) -> _Tokenizer:
        """Fit the vocabulary on documents or an array (see :meth:`fit_encode`)."""
        self.fit_encode(data)
        return self

    def fit_encode(self, data: list[str] | np.ndarray) -> list[torch.Tensor]:
        """Fit on ``data`` and return its token ids (CPU int64), one tensor per item.

        ``data`` is a list of documents (one vocabulary over all of them), a 1-D
        integer array (one token stream) or a 2-D numeric array (rows; one tensor of
        shape ``(n_rows, n_columns)``).
        """
        if isinstance(data, list):
            return self._fit_texts(data)
        arr = np.asarray(data)
        if arr.ndim == 1:
            self.mode_ = "ids"
            self.vocab_size_ = int(arr.max()) + 1 if arr.size else 0
            return [self.encode(arr)]
        ints = np.all(arr >= 0) and np.all(arr == np.round(arr))
        self.mode_ = "ids" if ints else "quantile"
        if self.mode_ == "ids":
            self.vocab_size_ = int(arr.max()) + 1
        else:
            qs = np.linspace(0, 1, int(self.n_bins) + 1)[1:-1]
            self.bin_edges_ = np.unique(np.quantile(arr, qs))
            self.vocab_size_ = len(self.bin_edges_) + 1
        return [self.encode(arr)]

    def _fit_texts(self, texts: list[str]) -> list[torch.Tensor]:
        tok = self.tokenizer
        if callable(tok):
            self.mode_ = "callable"
            raw = [self._call(t) for t in texts]
            self.vocab_size_ = max(int(ids.max()) + 1 if ids.size else 0 for ids in raw)
            return [self._check_ids(ids) for ids in raw]
        # "auto", "char" or "byte" (checked by the estimator's constraints)
        self.mode_ = "byte" if tok == "byte" else "char"
        if self.mode_ == "char":
            self.vocab_ = sorted(set().union(*(set(t) for t in texts)))
            self.vocab_size_ = len(self.vocab_)
        else:
            self.vocab_size_ = 256
        return [self.encode(t) for t in texts]

    def match_teacher(self, n_vocab: int) -> None:
        """Check the vocabulary against a teacher's ``n_vocab`` tokens (ValueError).

        Token ids and callables then take the teacher's vocabulary size, so that any
        id the teacher knows can be encoded later.
        """
        tok = self.tokenizer
        if self.mode_ == "callable" and hasattr(tok, "__len__") and len(tok) > n_vocab:
            raise ValueError(
                f"tokenizer has a vocabulary of {len(tok)} tokens, more than the "
                f"teacher's {n_vocab}."
            )
        if self.vocab_size_ > n_vocab:
            what = (
                f"tokenizer={tok!r} gives {self.vocab_size_} tokens"
                if self.mode_ in ("char", "byte")
                else f"X holds token ids up to {self.vocab_size_ - 1}"
            )
            raise ValueError(
                f"{what}, outside the teacher's vocabulary of {n_vocab} tokens."
            )
        if self.mode_ in ("ids", "callable"):
            self.vocab_size_ = int(n_vocab)

    # --------------------------------------------------------------- encode
    def encode(self, data: str | np.ndarray) -> torch.Tensor:
        """Token ids (CPU int64) of one document, a 1-D id stream or a 2-D array."""
        if isinstance(data, str):
            return self._encode_text(data)
        arr = np.asarray(data)
        if arr.ndim == 1:  # an integer token stream
            return self._check_ids(arr)
        if self.mode_ != "quantile":  # token ids (also after a fit on text)
            if not np.all(arr == np.round(arr)):
                raise ValueError(
                    "X holds non-integer values, but the estimator was fitted on "
                    "token ids or text: pass token ids."
                )
            return self._check_ids(np.asarray(arr, dtype=np.int64))
        ids = np.searchsorted(self.bin_edges_, arr, side="right")
        return torch.from_numpy(np.ascontiguousarray(ids, dtype=np.int64))

    def _encode_text(self, text: str) -> torch.Tensor:
        if self.mode_ == "callable":
            return self._check_ids(self._call(text))
        if self.mode_ == "char":
            codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
            vocab = np.frombuffer("".join(self.vocab_).encode("utf-32-le"), np.uint32)
            ids = np.searchsorted(vocab, codes).clip(max=len(vocab) - 1)
            bad = vocab[ids] != codes
            if bad.any():
                unknown = sorted({chr(c) for c in codes[bad]})
                raise ValueError(f"X holds characters not seen in fit: {unknown[:10]}.")
            return torch.from_numpy(ids.astype(np.int64))
        if self.mode_ == "byte":
            return torch.tensor(list(text.encode("utf-8")), dtype=torch.int64)
        raise ValueError("X is text, but the estimator was fitted on arrays.")

    def _call(self, text: str) -> np.ndarray:
        out = self.tokenizer(text)
        if hasattr(out, "keys"):  # a Hugging Face tokenizer's BatchEncoding
            out = out["input_ids"]
        return np.asarray(out, dtype=np.int64)

    def _check_ids(self, ids: np.ndarray) -> torch.Tensor:
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size_):
            raise ValueError(
                f"X holds token ids outside [0, {self.vocab_size_}), the vocabulary "
                "seen in fit."
            )
        return torch.from_numpy(np.ascontiguousarray(ids, dtype=np.int64))

    # --------------------------------------------------------------- decode
    def decode(self, ids: Any) -> str | np.ndarray:
        """Text of a 1-D sequence of token ids (text modes), or the ids themselves.

        Raises ``ValueError`` for ids outside the vocabulary, for quantised values
        (a bin does not determine its value) and for a callable without ``decode``.
        """
        arr = np.asarray(ids, dtype=np.int64)
        self._check_ids(arr)
        if self.mode_ == "char":
            return "".join(self.vocab_[i] for i in arr.reshape(-1))
        if self.mode_ == "byte":
            return bytes(arr.reshape(-1).tolist()).decode("utf-8", errors="replace")
        if self.mode_ == "callable":
            decode = getattr(self.tokenizer, "decode", None)
            if not callable(decode):
                raise ValueError("The tokenizer callable has no `decode` method.")
            return str(decode(arr.reshape(-1).tolist()))
        if self.mode_ == "ids":
            return arr
        raise ValueError("Quantised values cannot be decoded: a bin is not a value.")


# ------------------------------------------------------------------ windows
def eval_windows(seqs: list[torch.Tensor], rows: bool, context: int) -> torch.Tensor:
    """Non-overlapping evaluation windows ``(n, context + 1)`` of the sequences."""
    if rows:
        A = seqs[0]
        return A[:, -(context + 1) :]
    L = context + 1
    out = []
    for s in seqs:
        n = len(s) // L
        if n:
            out.append(s[: n * L].view(n, L))
        elif len(s) >= 2:
            out.append(s.view(1, -1))
    if not out:
        raise ValueError("X needs at least one sequence of 2 or more tokens.")
    lengths = {w.shape[1] for w in out}
    if len(lengths) > 1:
        out = [w for w in out if w.shape[1] == max(lengths)]
    return torch.cat(out)


def window_sampler(
    seqs: list[torch.Tensor], rows: bool, context: int, generator: torch.Generator
) -> Callable[[int], torch.Tensor]:
    """A function drawing ``b`` random training windows of ``context + 1`` tokens."""
    if rows:
        A = seqs[0]
        L = min(context + 1, A.shape[1])
        n_off = A.shape[1] - L + 1

        def draw_rows(b: int) -> torch.Tensor:
            r = torch.randint(len(A), (b,), generator=generator)
            o = torch.randint(n_off, (b,), generator=generator)
            idx = o[:, None] + torch.arange(L)
            return A[r[:, None], idx]

        return draw_rows
    stream = torch.cat(seqs)
    L = min(context + 1, len(stream))
    if L < 2:
        raise ValueError("X needs at least 2 tokens.")

    def draw(b: int) -> torch.Tensor:
        o = torch.randint(len(stream) - L + 1, (b,), generator=generator)
        return stream[o[:, None] + torch.arange(L)]

    return draw


def pad_masks(
    pad_token_id: int | None, inp: torch.Tensor, tgt: torch.Tensor
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Attention mask of the inputs and loss mask of the targets (pads off)."""
    if pad_token_id is None:
        return None, None
    real = inp != pad_token_id
    return real, real & (tgt != pad_token_id)
