"""Boomerang distillation: a pruned-and-distilled student, then zero-shot sizes.

Kangaslahti et al., "Boomerang Distillation Enables Zero-Shot Model Size
Interpolation" (2025).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.nn import functional as F

from .._base import TorchEstimatorMixin
from .._compat import Interval, StrOptions, fit_context
from .._validation import (
    check_option,
    tensor_to_numpy,
    validate_input,
)
from ._layers import TinyGPT, boomerang_loss, cosine_lr
from ._patching import (
    as_layer_stack,
    assemble,
    check_patch_blocks,
    depths,
    k_for,
    n_params,
    patched_set,
    pruned_view,
    reinitialise,
    resolve_blocks,
    teacher_vocab_size,
    ties_head,
)
from ._tokenizer import _Tokenizer, eval_windows, pad_masks, window_sampler

__all__ = ["BoomerangDistiller"]

_TEACHER_DEFAULTS: dict[str, Any] = {
    "d_model": 64,
    "n_layer": 10,
    "n_head": 4,
    "max_steps": 2000,
    "lr": 3e-3,
    "batch_size": 32,
}


class BoomerangDistiller(TorchEstimatorMixin, BaseEstimator):
    """Distil a layer-pruned student, then interpolate sizes by re-inserting blocks.

    The teacher's N layers are cut into M contiguous blocks; student layer ``i``
    starts as a copy of the first layer of block ``i`` (embedding, final norm and
    head are copied too) and is distilled with cross-entropy, KL to the teacher's
    logits and a cosine alignment of each student layer's output with the output
    of the last layer of its teacher block. Replacing student layers by their
    teacher blocks then gives every intermediate size, with no training.

    Parameters
    ----------
    teacher : callable, default=None
        A zero-argument loader returning the teacher module, which must expose
        ``embed``, ``blocks`` (``nn.ModuleList``, ``blocks[i](h) -> h``),
        ``final_norm`` and ``head`` (like :class:`TinyGPT`). ``None`` trains a tiny
        GPT teacher on the data in ``fit`` (see ``teacher_params``). A loader, not a
        module, so that :func:`~sklearn.base.clone` never copies a large model.
    teacher_params : dict, default=None
        Overrides of the built-in teacher's ``d_model=64, n_layer=10, n_head=4,
        max_steps=2000, lr=3e-3, batch_size=32`` (its context is ``context``).
    every, first_keep, last_keep : int, default=2, 1, 2
        The reference block map (see :func:`boomerang_layer_map`).
    blocks : list of list of int, default=None
        Explicit contiguous blocks covering every teacher layer; overrides the map.
    init : {"teacher", "random"}, default="teacher"
        Student initialisation; ``"random"`` is the paper's ablation.
    lambda_ce, lambda_kl, temperature, lambda_cos : float, default=1, 0.1, 1, 2
        Loss weights and KL temperature.
    cos_reduction : {"mean_over_pairs", "sum"}, default="mean_over_pairs"
        How the cosine terms of the aligned pairs are combined.
    lambda_mse : float, default=0.0
        Weight of an optional norm-matching term, not in the paper: the relative
        squared error ``|h_S - h_T|^2 / |h_T|^2`` of every aligned pair, reduced
        like the cosine term. The cosine aligns directions only; this also matches
        the norms of the residual streams that patched models pass from one
        source to the other (see :func:`boomerang_loss`).
    max_steps : int, default=500
        Distillation steps.
    batch_size : int, default=32
        Windows per step.
    context : int, default=64
        Window length (tokens) for training and evaluation.
    lr : float, default=1e-3
        AdamW learning rate (betas ``betas``, weight decay ``weight_decay``, cosine
        schedule with ``warmup`` fraction of linear warm-up, gradient clip
        ``grad_clip``).
    betas : tuple of float, default=(0.9, 0.95)
    weight_decay : float, default=0.1
    warmup : float, default=0.01
    grad_clip : float, default=1.0
    patch_order : {"auto", "first", "last"}, default="auto"
        Default order of :meth:`interpolate`: ``"first"`` re-inserts teacher blocks
        front to back, ``"last"`` back to front, ``"auto"`` picks the order whose
        one-block patch has the lower loss on the fit data (as ADAPT does).
    tokenizer : {"auto", "char", "byte"} or callable, default="auto"
        Text is tokenised per character (``"auto"``/``"char"``), per UTF-8 byte, or
        by a callable ``str -> list of int`` (a Hugging Face tokenizer works: its
        ``input_ids`` are used, and its ``len`` is checked against the teacher's
        vocabulary). Arrays of non-negative integers are token ids; other numeric
        arrays are quantised into ``n_bins`` tokens.
    pad_token_id : int, default=None
        Token id of padding in rows of ``X`` (left or right padded). Pad inputs are
        hidden from attention and excluded from the cosine term; a target counts in
        the cross-entropy and in perplexities only when it and its input are real
        tokens (so padding never changes a perplexity); positions count real tokens
        only. The KL term keeps pads, as in the reference code.
    n_bins : int, default=32
        Quantile bins for real-valued sequences.
    checkpoint_dir : str, default=None
        Save the student's ``state_dict`` there every ``checkpoint_every`` steps.
    checkpoint_every : int, default=100
    device : str or torch.device, default="auto"
    dtype : str, default="float32"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0

    Attributes
    ----------
    teacher_ : TinyGPT
        The teacher (eval mode).
    student_ : TinyGPT
        The distilled student (eval mode).
    blocks_ : list of list of int
        Teacher layers of each student layer.
    aligned_pairs_ : dict
        ``{student hidden index: teacher hidden index}`` used by the cosine term.
    kept_teacher_layers_, pruned_teacher_layers_ : list of int
    n_layers_range_ : tuple of int
        ``(M, N)``.
    patch_order_ : str
        The resolved default patch order.
    vocab_size_ : int
    history_ : dict
        Per-step ``"loss"``, ``"ce"``, ``"kl"``, ``"cos"`` and ``"mse"`` lists
        of the student's distillation (unweighted pieces).
    n_features_in_ : int
        Sequence length, when ``X`` was a 2-D array.

    Notes
    -----
    ``interpolate(k=0)`` is the pure student, unlike the reference, whose
    back-to-front k = 0 swaps in the teacher tail and head; the reference
    cut-offs are :func:`boomerang_cutoffs`. The embedding comes from the model
    that supplies the first layer, the final norm and head from the one that
    supplies the last layer.

    References
    ----------
    S. Kangaslahti, E. Nayak, J. Geuter, M. Fumero, F. Locatello,
    D. Alvarez-Melis. "Boomerang Distillation Enables Zero-Shot Model Size
    Interpolation", 2025.

    Examples
    --------
    >>> from skres.distillation import BoomerangDistiller
    >>> text = "the cat sat on the mat. " * 40
    >>> est = BoomerangDistiller(
    ...     teacher_params=dict(d_model=16, n_layer=4, n_head=2, max_steps=20),
    ...     max_steps=10, batch_size=8, context=16, random_state=0,
    ... ).fit([text])
    >>> est.n_layers_range_
    (3, 4)
    >>> sorted(est.model_family())
    [3, 4]
    """

    _parameter_constraints: dict = {
        **TorchEstimatorMixin._torch_parameter_constraints,
        "teacher": [callable, None],
        "teacher_params": [dict, None],
        "every": [Interval(Integral, 1, None, closed="left")],
        "first_keep": [Interval(Integral, 1, None, closed="left")],
        "last_keep": [Interval(Integral, 1, None, closed="left")],
        "blocks": [list, None],
        "init": [StrOptions({"teacher", "random"})],
        "lambda_ce": [Interval(Real, 0, None, closed="left")],
        "lambda_kl": [Interval(Real, 0, None, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "lambda_cos": [Interval(Real, 0, None, closed="left")],
        "cos_reduction": [StrOptions({"mean_over_pairs", "sum"})],
        "lambda_mse": [Interval(Real, 0, None, closed="left")],
        "max_steps": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "context": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "betas": [tuple, list],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "warmup": [Interval(Real, 0, 1, closed="left")],
        "grad_clip": [Interval(Real, 0, None, closed="left")],
        "patch_order": [StrOptions({"auto", "first", "last"})],
        "tokenizer": [StrOptions({"auto", "char", "byte"}), callable],
        "pad_token_id": [Interval(Integral, 0, None, closed="left"), None],
        "n_bins": [Interval(Integral, 1, None, closed="left")],
        "checkpoint_dir": [str, os.PathLike, None],
        "checkpoint_every": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        teacher: Callable[[], nn.Module] | None = None,
        teacher_params: dict[str, Any] | None = None,
        every: int = 2,
        first_keep: int = 1,
        last_keep: int = 2,
        blocks: list[list[int]] | None = None,
        init: str = "teacher",
        lambda_ce: float = 1.0,
        lambda_kl: float = 0.1,
        temperature: float = 1.0,
        lambda_cos: float = 2.0,
        cos_reduction: str = "mean_over_pairs",
        lambda_mse: float = 0.0,
        max_steps: int = 500,
        batch_size: int = 32,
        context: int = 64,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.95),
        weight_decay: float = 0.1,
        warmup: float = 0.01,
        grad_clip: float = 1.0,
        patch_order: str = "auto",
        tokenizer: Any = "auto",
        pad_token_id: int | None = None,
        n_bins: int = 32,
        checkpoint_dir: str | None = None,
        checkpoint_every: int = 100,
        device: Any = "auto",
        dtype: Any = "float32",
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.teacher = teacher
        self.teacher_params = teacher_params
        self.every = every
        self.first_keep = first_keep
        self.last_keep = last_keep
        self.blocks = blocks
        self.init = init
        self.lambda_ce = lambda_ce
        self.lambda_kl = lambda_kl
        self.temperature = temperature
        self.lambda_cos = lambda_cos
        self.cos_reduction = cos_reduction
        self.lambda_mse = lambda_mse
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.context = context
        self.lr = lr
        self.betas = betas
        self.weight_decay = weight_decay
        self.warmup = warmup
        self.grad_clip = grad_clip
        self.patch_order = patch_order
        self.tokenizer = tokenizer
        self.pad_token_id = pad_token_id
        self.n_bins = n_bins
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.device = device
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    @classmethod
    def _get_test_params(cls) -> dict[str, Any]:
        return {
            "teacher_params": {"d_model": 8, "n_layer": 4, "n_head": 2, "max_steps": 3},
            "max_steps": 3,
            "batch_size": 4,
            "context": 8,
            "n_bins": 6,
        }

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.non_deterministic = False
        return tags

    # ------------------------------------------------------------ tokenising
    def _encode(self, X: Any, *, reset: bool) -> tuple[list[torch.Tensor], bool]:
        """Token id sequences (CPU int64) and whether ``X`` was a 2-D array."""
        if isinstance(X, str):
            X = [X]
        if isinstance(X, list | tuple) and X and all(isinstance(s, str) for s in X):
            if reset:
                return self._fit_tokenizer(list(X)), False
            return [self._tokenizer.encode(t) for t in X], False
        arr = np.asarray(tensor_to_numpy(X, "X"))
        if arr.ndim == 1 and np.issubdtype(arr.dtype, np.integer):
            if reset:
                return self._fit_tokenizer(arr), False
            return [self._tokenizer.encode(arr)], False
        A = validate_input(self, X, reset=reset, dtype=[np.float64, np.float32])
        if A.shape[1] < 2:
            raise ValueError(
                "X needs sequences of at least 2 tokens; got 1 feature(s) per row."
            )
        if reset:
            return self._fit_tokenizer(A, rows=True), True
        return [self._tokenizer.encode(A)], True

    def _fit_tokenizer(self, data: Any, rows: bool = False) -> list[torch.Tensor]:
        """Fit a fresh tokeniser on ``data`` and publish its vocabulary attributes."""
        if not rows and hasattr(self, "n_features_in_"):
            del self.n_features_in_
        self._tokenizer = _Tokenizer(self.tokenizer, int(self.n_bins))
        seqs = self._tokenizer.fit_encode(data)
        self._publish_vocab()
        return seqs

    def _publish_vocab(self) -> None:
        """Copy the tokeniser's fitted vocabulary onto the estimator."""
        tok = self._tokenizer
        self.vocab_size_ = tok.vocab_size_
        for name in ("vocab_", "bin_edges_"):
            if hasattr(tok, name):
                setattr(self, name, getattr(tok, name))

    # ------------------------------------------------------------------ fit
    def _check_param_combinations(self) -> None:
        """What ``_parameter_constraints`` cannot say: a loss term and a loader."""
        weights = ("lambda_ce", "lambda_kl", "lambda_cos", "lambda_mse")
        if all(getattr(self, name) == 0 for name in weights):
            raise ValueError(
                "At least one of lambda_ce, lambda_kl, lambda_cos and lambda_mse must "
                "be > 0."
            )
        if isinstance(self.teacher, nn.Module):
            raise TypeError(
                "teacher must be a zero-argument loader returning the module (e.g. "
                "`lambda: model`) or None, so that clone() never copies a model; got "
                f"{type(self.teacher).__name__}."
            )

    def _resolve_blocks(self, n_layers: int) -> None:
        blocks, aligned, n_tail = resolve_blocks(
            n_layers, self.blocks, self.every, self.first_keep, self.last_keep
        )
        self.blocks_ = blocks
        self.aligned_pairs_ = aligned
        self._n_tail = n_tail
        self.kept_teacher_layers_ = [b[0] for b in blocks]
        self.pruned_teacher_layers_ = [j for b in blocks for j in b[1:]]
        self.n_layers_range_ = (len(blocks), n_layers)

    def _check_vocab(self, teacher: nn.Module) -> None:
        """Tokenizer, data and teacher vocabularies must agree (ValueError)."""
        V = teacher_vocab_size(teacher)
        if V is None:
            return
        self._tokenizer.match_teacher(V)
        self._publish_vocab()
        if self.pad_token_id is not None and self.pad_token_id >= V:
            raise ValueError(
                f"pad_token_id={self.pad_token_id} is outside the teacher's "
                f"vocabulary of {V} tokens."
            )

    def _train_teacher(
        self, sample: Callable[[int], torch.Tensor], generator: torch.Generator
    ) -> TinyGPT:
        params = dict(_TEACHER_DEFAULTS)
        unknown = set(self.teacher_params or {}) - set(params)
        if unknown:
            raise ValueError(
                f"teacher_params has unknown keys {sorted(unknown)}; expected some of "
                f"{sorted(params)}."
            )
        params.update(self.teacher_params or {})
        model = self._build_module(
            lambda: TinyGPT(
                self.vocab_size_,
                int(params["d_model"]),
                int(params["n_layer"]),
                int(params["n_head"]),
                self.context_,
            ),
            generator,
        )
        self._optimise(
            model,
            None,
            sample,
            int(params["max_steps"]),
            float(params["lr"]),
            int(params["batch_size"]),
            "teacher",
        )
        return model.eval()

    def _optimise(
        self,
        model: TinyGPT,
        teacher: TinyGPT | None,
        sample: Callable[[int], torch.Tensor],
        steps: int,
        lr: float,
        batch_size: int,
        desc: str,
    ) -> dict[str, list[float]]:
        opt = torch.optim.AdamW(
            model.parameters(),
            lr=lr,
            betas=tuple(self.betas),  # type: ignore[arg-type]
            eps=1e-8,
            weight_decay=self.weight_decay,
            fused=self.device_.type in ("cpu", "cuda"),
        )
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: cosine_lr(s, steps, self.warmup)
        )
        keys = ("loss", "ce", "kl", "cos", "mse")
        history: dict[str, list[float]] = {key: [] for key in keys}
        model.train()
        progress = self._progress(range(steps), total=steps, desc=desc)
        with torch.enable_grad():
            for step in progress:
                batch = sample(batch_size).to(self.device_)
                inp, tgt = batch[:, :-1], batch[:, 1:]
                am, tm = pad_masks(self.pad_token_id, inp, tgt)
                if teacher is None:
                    logits = model(inp, attention_mask=am)
                    ce = F.cross_entropy(
                        logits.reshape(-1, logits.shape[-1]),
                        tgt.reshape(-1),
                        reduction="none" if tm is not None else "mean",
                    )
                    if tm is not None:
                        ce = (ce * tm.reshape(-1)).sum() / tm.sum().clamp_min(1)
                    loss = ce
                    parts = {"loss": loss, "ce": loss}
                else:
                    s_logits, s_hidden = model(inp, hidden=True, attention_mask=am)
                    with torch.no_grad():
                        t_logits, t_hidden = teacher(
                            inp, hidden=True, attention_mask=am
                        )
                    parts = boomerang_loss(
                        s_logits,
                        t_logits,
                        s_hidden,
                        t_hidden,
                        tgt,
                        self.aligned_pairs_,
                        am,
                        tm,
                        lambda_ce=self.lambda_ce,
                        lambda_kl=self.lambda_kl,
                        temperature=self.temperature,
                        lambda_cos=self.lambda_cos,
                        cos_reduction=self.cos_reduction,
                        lambda_mse=self.lambda_mse,
                    )
                    loss = parts["loss"]
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if self.grad_clip:
                    nn.utils.clip_grad_norm_(model.parameters(), self.grad_clip)
                opt.step()
                sched.step()
                for key, value in parts.items():
                    history[key].append(float(value.detach()))
                self._report(progress, loss=history["loss"][-1])
                if (
                    teacher is not None
                    and self.checkpoint_dir is not None
                    and (step + 1) % self.checkpoint_every == 0
                ):
                    os.makedirs(self.checkpoint_dir, exist_ok=True)
                    path = os.path.join(self.checkpoint_dir, f"student_{step + 1}.pt")
                    torch.save(model.state_dict(), path)
        return history

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> BoomerangDistiller:
        """Tokenise ``X``, train the teacher if needed, build and distil the student.

        Parameters
        ----------
        X : str, list of str, 1-D int array or array of shape (n_samples, n_features)
            Text, one token-id stream, or rows of token ids (or real values,
            which are quantised).
        y : None
            Ignored.

        Returns
        -------
        self : BoomerangDistiller
        """
        self._check_param_combinations()
        generator = self._setup_torch(X)
        self.context_ = int(self.context)
        seqs, rows = self._encode(X, reset=True)
        if rows:
            self.context_ = min(self.context_, seqs[0].shape[1] - 1)
        sample = window_sampler(seqs, rows, self.context_, generator)
        teacher: Any
        if self.teacher is None:
            teacher = self._train_teacher(sample, generator)
        else:
            teacher = as_layer_stack(self.teacher(), self.device_, self.dtype_)
        self._check_vocab(teacher)
        self.teacher_ = teacher.eval()
        for p in self.teacher_.parameters():
            p.requires_grad_(False)
        self._resolve_blocks(len(self.teacher_.blocks))
        student = self._pruned_student()
        if self.init == "random":
            reinitialise(student, self._draw_seed(generator))
        for p in student.parameters():
            p.requires_grad_(True)
        self.history_ = self._optimise(
            student,
            self.teacher_,
            sample,
            int(self.max_steps),
            float(self.lr),
            int(self.batch_size),
            "distil",
        )
        self.student_ = student.eval()
        if self.patch_order == "auto":
            windows = eval_windows(seqs, rows, self.context_)[:64]
            losses = {
                o: self._nll(self._patched(self.student_, 1, o), windows)
                for o in ("first", "last")
            }
            self.patch_order_ = min(losses, key=lambda o: losses[o])
        else:
            self.patch_order_ = self.patch_order
        return self

    # ------------------------------------------------------------- patching
    def _pruned_student(self) -> TinyGPT:
        """The undistilled student: first layer of every block, copied."""
        view = pruned_view(self.teacher_, self.blocks_)
        return assemble(self.teacher_, view, self.blocks_, frozenset())

    def _depths(self, order: str) -> list[int]:
        return depths(self.blocks_, self._n_tail, self.n_layers_range_[1], order)

    def _patched_set(self, k: int, order: str) -> frozenset[int]:
        """Student layers replaced by their teacher blocks after ``k`` patches."""
        return patched_set(self.blocks_, self._n_tail, k, order)

    def _patched(self, student: Any, k: int, order: str) -> TinyGPT:
        """Student with ``k`` patches in ``order`` (fresh copy, eval mode)."""
        return assemble(
            self.teacher_, student, self.blocks_, self._patched_set(k, order)
        )

    def _resolve_patch(
        self,
        n_layers: int | None,
        k: int | None,
        order: str | None,
        blocks: Any,
    ) -> frozenset[int]:
        if blocks is not None:
            if n_layers is not None or k is not None or order is not None:
                raise ValueError(
                    "Pass blocks alone: it names the patched student layers, so "
                    "n_layers, k and order do not apply."
                )
            return check_patch_blocks(blocks, len(self.blocks_))
        order = self._order(order)
        return self._patched_set(self._k_for(n_layers, k, order), order)

    def _k_for(self, n_layers: int | None, k: int | None, order: str) -> int:
        N = self.n_layers_range_[1]
        return k_for(self._depths(order), n_layers, k, order, N)

    def _order(self, order: str | None) -> str:
        order = self.patch_order_ if order is None else order
        return str(check_option(order, "order", ("first", "last")))

    def interpolate(
        self,
        n_layers: int | None = None,
        k: int | None = None,
        order: str | None = None,
        blocks: Any = None,
    ) -> TinyGPT:
        """A model of intermediate size: teacher blocks re-inserted, no training.

        Parameters
        ----------
        n_layers : int, default=None
            Target depth, from ``M`` (the student) to ``N`` (the teacher).
        k : int, default=None
            Number of patches instead of a depth: 0 is the student, the last the
            teacher.
        order : {"first", "last"}, default=None
            Patch front to back or back to front (``patch_order_`` when ``None``).
        blocks : iterable of int, default=None
            Any set of student layers to replace by their teacher blocks (indices
            into ``blocks_``), instead of ``n_layers``/``k`` and ``order``; the
            two orders are the prefixes and suffixes of ``range(M)``.

        Returns
        -------
        model : TinyGPT
            A fresh module sharing no storage with the teacher or the student. Its
            embedding comes from whichever model supplies the first layer, its
            final norm and head from whichever supplies the last.

        Examples
        --------
        >>> from skres.distillation import BoomerangDistiller
        >>> est = BoomerangDistiller(
        ...     teacher_params=dict(d_model=16, n_layer=6, n_head=2, max_steps=5),
        ...     max_steps=3, batch_size=4, context=16, random_state=0,
        ... ).fit(["to be or not to be, that is the question. " * 20])
        >>> est.blocks_
        [[0, 1], [2, 3], [4], [5]]
        >>> len(est.interpolate(n_layers=5, order="first").blocks)
        5
        >>> len(est.interpolate(blocks=[0, 1]).blocks)  # both 2-layer blocks back
        6
        """
        check_is_fitted(self, "student_")
        patched = self._resolve_patch(n_layers, k, order, blocks)
        return assemble(self.teacher_, self.student_, self.blocks_, patched)

    def naive_prune(
        self,
        n_layers: int | None = None,
        k: int | None = None,
        order: str | None = None,
        blocks: Any = None,
    ) -> TinyGPT:
        """The naive baseline: the undistilled pruned teacher, patched the same way.

        Takes the arguments of :meth:`interpolate`.
        """
        check_is_fitted(self, "student_")
        patched = self._resolve_patch(n_layers, k, order, blocks)
        view = pruned_view(self.teacher_, self.blocks_)
        return assemble(self.teacher_, view, self.blocks_, patched)

    def model_family(self, order: str | None = None) -> dict[int, TinyGPT]:
        """``{n_layers: model}`` for every reachable depth."""
        check_is_fitted(self, "student_")
        order = self._order(order)
        return {
            d: self.interpolate(n_layers=d, order=order) for d in self._depths(order)
        }

    # ----------------------------------------------------------- evaluation
    def _nll(self, model: nn.Module, windows: torch.Tensor) -> float:
        """Mean next-token NLL (nats) of ``model`` over ``windows`` (pads skipped)."""
        model.eval()
        total, count = 0.0, 0
        with torch.inference_mode():
            for batch in self._batch_slices(len(windows), 64):
                w = windows[batch].to(self.device_)
                am, tm = pad_masks(self.pad_token_id, w[:, :-1], w[:, 1:])
                if am is None:  # any causal LM module taking ids
                    logits = model(w[:, :-1])
                else:
                    logits = model(w[:, :-1], attention_mask=am)
                nll = F.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]).double(),
                    w[:, 1:].reshape(-1),
                    reduction="none",
                )
                if tm is None:
                    total += float(nll.sum())
                    count += w[:, 1:].numel()
                else:
                    total += float((nll * tm.reshape(-1)).sum())
                    count += int(tm.sum())
        if count == 0:
            raise ValueError("X holds no real (non-pad) target tokens.")
        return total / count

    def perplexity(
        self,
        X: Any,
        n_layers: int | None = None,
        order: str | None = None,
        model: nn.Module | None = None,
    ) -> float:
        """Perplexity on ``X`` of the student, a size ``n_layers``, or ``model``."""
        check_is_fitted(self, "student_")
        seqs, rows = self._encode(X, reset=False)
        windows = eval_windows(seqs, rows, self.context_)
        if model is None:
            model = (
                self.student_
                if n_layers is None
                else self.interpolate(n_layers=n_layers, order=order)
            )
        return float(np.exp(self._nll(model, windows)))

    def size_curve(
        self, X: Any, order: str | None = None, naive: bool = True
    ) -> dict[str, list[Any]]:
        """Parameters and perplexity of every size, boomerang and naive pruning.

        Parameters
        ----------
        X : str, list of str or array-like
            Held-out data, as in :meth:`fit`.
        order : {"first", "last"}, default=None
            Patch order (``patch_order_`` when ``None``).
        naive : bool, default=True
            Also evaluate naive pruning (it depends on the teacher only, so runs
            sharing a teacher can skip it).

        Returns
        -------
        curve : dict
            Lists ``"n_layers"``, ``"n_params"``, ``"perplexity"`` and, with
            ``naive``, ``"naive_perplexity"`` (one entry per reachable depth).
            When the teacher ties its head to its embedding, ``"n_params"``
            counts that matrix once at every depth (a patched model holds two
            copies: the teacher's embedding and the student's head).
        """
        check_is_fitted(self, "student_")
        order = self._order(order)
        seqs, rows = self._encode(X, reset=False)
        windows = eval_windows(seqs, rows, self.context_)
        curve: dict[str, list[Any]] = {
            "n_layers": [],
            "n_params": [],
            "perplexity": [],
        }
        if naive:
            curve["naive_perplexity"] = []
        tied = ties_head(self.teacher_)
        for d in sorted(set(self._depths(order))):
            model = self.interpolate(n_layers=d, order=order)
            curve["n_layers"].append(d)
            curve["n_params"].append(n_params(model, tied))
            curve["perplexity"].append(float(np.exp(self._nll(model, windows))))
            if naive:
                pruned = self.naive_prune(n_layers=d, order=order)
                nll = self._nll(pruned, windows)
                curve["naive_perplexity"].append(float(np.exp(nll)))
        return curve

    def _n_logits(self) -> int:
        head = self.student_.head
        return int(getattr(head, "out_features", self.vocab_size_))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Student's next-token distribution after each row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Contexts (token ids, or values quantised as in fit).

        Returns
        -------
        proba : ndarray of shape (n_samples, vocab_size)
        """
        check_is_fitted(self, "student_")
        seqs, rows = self._encode(X, reset=False)
        if not rows:
            raise ValueError("predict_proba needs a 2-D array of contexts.")
        ctx = seqs[0][:, -self.context_ :].to(self.device_)
        out = torch.empty(len(ctx), self._n_logits(), dtype=torch.float64)
        self.student_.eval()
        with torch.inference_mode():
            for i in range(len(ctx)):  # row by row: identical for any batching
                logits = self.student_(ctx[i : i + 1])[0, -1].double()
                out[i] = torch.softmax(logits, -1).cpu()
        return out.numpy()

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """Minus the student's mean next-token NLL per token (higher is better)."""
        check_is_fitted(self, "student_")
        seqs, rows = self._encode(X, reset=False)
        return -self._nll(self.student_, eval_windows(seqs, rows, self.context_))
