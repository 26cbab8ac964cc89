"""``TorchEstimatorMixin``: device, precision, seeding, batching and pickling.

Every torch-backed skres estimator inherits from this mixin (before
:class:`~sklearn.base.BaseEstimator`) and declares the parameters ``device``,
``dtype``, ``random_state`` and ``verbose`` in its own ``__init__``. ``fit`` then calls
:meth:`TorchEstimatorMixin._setup_torch` once, which resolves ``device_`` and
``dtype_`` and returns a local :class:`torch.Generator`; nothing here touches the
caller's global RNGs, thread counts, grad mode or determinism flags.
"""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
from sklearn.utils import check_random_state

from ._compat import StrOptions
from ._validation import (
    check_cast,
    check_finite_output,
    check_not_meta,
    is_torch_tensor,
)

__all__ = [
    "DeviceWarning",
    "SkresTags",
    "TorchEstimatorMixin",
    "get_skres_tags",
    "resolve_device",
    "resolve_dtype",
]

logger = logging.getLogger("skres")

ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)

_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "float64": torch.float64,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


class DeviceWarning(UserWarning):
    """A fitted estimator was loaded onto a different device than it was saved from."""


@dataclass(frozen=True)
class SkresTags:
    """skres-specific estimator tags (kept out of sklearn's closed ``Tags``).

    Attributes
    ----------
    torch : bool
        The estimator computes with torch and takes ``device``/``dtype``.
    stochastic : bool
        Different ``random_state`` values give different fitted results.
    """

    torch: bool = False
    stochastic: bool = False


def get_skres_tags(estimator: Any) -> SkresTags:
    """Return ``estimator.__skres_tags__()`` or the defaults."""
    getter = getattr(estimator, "__skres_tags__", None)
    return getter() if getter is not None else SkresTags()


def resolve_device(device: Any, X: Any = None) -> torch.device:
    """Turn a ``device`` parameter into a :class:`torch.device`.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"} or torch.device
        ``"auto"`` (or ``None``) picks the device of ``X`` when ``X`` is a tensor,
        else CUDA when available, else CPU.
    X : object, default=None
        The input passed to ``fit``.

    Raises
    ------
    ValueError
        For an unknown device string, or a device that is not available here.
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        if is_torch_tensor(X):
            return X.device
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, str):
        try:
            dev = torch.device(device)
        except RuntimeError as exc:
            raise ValueError(
                f"device={device!r} is not a device name torch knows; expected "
                "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'."
            ) from exc
    elif isinstance(device, torch.device):
        dev = device
    else:
        raise TypeError(
            f"device must be a string or a torch.device; got {type(device).__name__}."
        )
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this "
                "machine; use device='cpu' or device='auto'."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r}: only {torch.cuda.device_count()} CUDA device(s) "
                "are visible."
            )
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(
                f"device={device!r} was requested but MPS is not available."
            )
    elif dev.type != "cpu":
        raise ValueError(
            f"device={device!r} is not supported; expected 'auto', 'cpu', 'cuda' or "
            "'mps'."
        )
    return dev


def resolve_dtype(dtype: Any) -> torch.dtype:
    """Turn a ``dtype`` parameter (string, numpy or torch dtype) into a torch dtype."""
    if isinstance(dtype, torch.dtype):
        if dtype in _DTYPES.values():
            return dtype
    else:
        try:
            key = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
        except TypeError:
            key = None
        if key in _DTYPES:
            return _DTYPES[key]
    raise ValueError(
        f"dtype must be one of {sorted(_DTYPES)} (or the matching numpy/torch dtype); "
        f"got {dtype!r}."
    )


def _first_device(value: Any) -> torch.device | None:
    """The device of the first tensor found in ``value`` (module, tensor, container)."""
    if isinstance(value, torch.Tensor):
        return value.device
    if isinstance(value, torch.nn.Module):
        for tensor in [*value.parameters(), *value.buffers()]:
            return tensor.device
        return None
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple):
        for item in value:
            dev = _first_device(item)
            if dev is not None:
                return dev
    return None


def _to_device(value: Any, device: torch.device, *, copy_module: bool) -> Any:
    """Move every tensor/module inside ``value`` to ``device`` (copying modules)."""
    if isinstance(value, torch.Tensor):
        return value.detach().to(device)
    if isinstance(value, torch.nn.Module):
        return (copy.deepcopy(value) if copy_module else value).to(device)
    if isinstance(value, dict):
        return {
            k: _to_device(v, device, copy_module=copy_module) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        moved = [_to_device(v, device, copy_module=copy_module) for v in value]
        return type(value)(moved) if isinstance(value, list) else tuple(moved)
    return value


class TorchEstimatorMixin:
    """Mixin that gives an estimator torch device, precision, seeding and pickling.

    Subclasses declare ``device="auto"``, ``dtype="float32"``, ``random_state=None``
    and ``verbose=0`` in their ``__init__`` and call :meth:`_setup_torch` at the start
    of ``fit``. Fitted attributes set by the mixin:

    Attributes
    ----------
    device_ : torch.device
        Where the fitted modules live and inference runs.
    dtype_ : torch.dtype
        The compute precision.

    Notes
    -----
    * Seeding: ``random_state`` goes through
      :func:`~sklearn.utils.check_random_state`, and one 63-bit seed drawn from it
      seeds a local CPU :class:`torch.Generator`. Random draws (initialisation,
      shuffling) are made on the CPU with that generator and then moved, so the same
      seed gives the same initial weights on CPU and GPU, and bit-identical fits on
      CPU. The caller's global torch and numpy RNG states are never touched.
    * Pickling: every tensor or module on an accelerator is stored as a CPU copy. On
      load, it goes back to its device when that device exists, and otherwise stays on
      the CPU with a :class:`DeviceWarning` (``device_`` becomes CPU).
    * Threads: the mixin never changes torch's thread count. On small problems a
      single thread is often fastest; wrap calls in
      ``threadpoolctl.threadpool_limits(1)`` to get it.
    """

    _skres_saved_devices_key = "_skres_saved_devices"

    #: Constraints of the parameters every torch-backed estimator takes; merge them
    #: into the estimator's ``_parameter_constraints``. ``device`` strings are
    #: checked further (name, availability) by :func:`resolve_device` in ``fit``.
    _torch_parameter_constraints: dict[str, list[Any]] = {
        "device": [str, torch.device],
        "dtype": [StrOptions(set(_DTYPES)), torch.dtype, np.dtype, type],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # ----------------------------------------------------------------- tags
    def __skres_tags__(self) -> SkresTags:
        return SkresTags(torch=True, stochastic=True)

    # ---------------------------------------------------------------- setup
    def _setup_torch(self, X: Any = None) -> torch.Generator:
        """Resolve ``device_``/``dtype_`` and return a freshly seeded CPU generator.

        Call once at the start of ``fit``, passing the raw ``X`` so that
        ``device="auto"`` can follow an input tensor's device.
        """
        self.device_ = resolve_device(getattr(self, "device", "auto"), X)
        self.dtype_ = resolve_dtype(getattr(self, "dtype", "float32"))
        rng = check_random_state(getattr(self, "random_state", None))
        seed = int(rng.randint(np.iinfo(np.int64).max, dtype=np.int64))
        generator = torch.Generator(device="cpu")
        generator.manual_seed(seed)
        return generator

    @staticmethod
    def _draw_seed(generator: torch.Generator) -> int:
        """Draw a 62-bit seed from ``generator`` (for sub-components)."""
        return int(torch.randint(2**62, (1,), generator=generator).item())

    def _build_module(
        self, factory: Callable[[], ModuleT], generator: torch.Generator
    ) -> ModuleT:
        """Construct a module with seeded default initialisation, then move it.

        ``factory`` runs on the CPU inside :func:`torch.random.fork_rng`, which saves
        and restores the global CPU RNG state around it, so modules built with
        torch's default initialisers are reproducible without any global side effect.
        """
        seed = self._draw_seed(generator)
        with torch.random.fork_rng(devices=[]):
            # Seeding inside fork_rng only affects the forked state, restored on exit.
            torch.random.manual_seed(seed)
            module = factory()
        return module.to(device=self.device_, dtype=self.dtype_)

    # ------------------------------------------------------------ conversion
    def _to_tensor(
        self, X: Any, dtype: torch.dtype | None = None, *, name: str = "X"
    ) -> torch.Tensor:
        """Copy-safe conversion of an array (or tensor) to ``device_``/``dtype_``.

        After the cast, :func:`~skres._validation.check_cast` raises a
        ``ValueError`` naming ``name``, the dtype and the remedy if finite values
        became ``inf`` (beyond the dtype's range) or all underflowed; a tensor on
        the ``meta`` device is refused.
        """
        dtype = self.dtype_ if dtype is None else dtype
        if is_torch_tensor(X):
            check_not_meta(X, name)
            out = X.detach().to(device=self.device_, dtype=dtype)
        else:
            arr = np.asarray(X)
            if not arr.flags.writeable or not arr.flags.c_contiguous:
                arr = np.array(arr, order="C", copy=True)
            out = torch.from_numpy(arr).to(device=self.device_, dtype=dtype)
        check_cast(X, out, name=name)
        return out

    def _check_output(self, values: Any, method: str, *, action: str = "raise") -> Any:
        """Raise (or warn) if ``method`` produced NaN/inf; return ``values``.

        See :func:`~skres._validation.check_finite_output`.
        """
        return check_finite_output(
            values,
            estimator=self,
            method=method,
            dtype=getattr(self, "dtype_", None),
            action=action,
        )

    @staticmethod
    def _to_numpy(tensor: torch.Tensor, dtype: Any = None) -> np.ndarray:
        """Detach a tensor to a numpy array, optionally cast to ``dtype``."""
        out = tensor.detach().cpu()
        if out.dtype in (torch.bfloat16, torch.float16):
            out = out.float()
        arr = out.numpy()
        return arr if dtype is None else arr.astype(dtype, copy=False)

    # ------------------------------------------------------------- batching
    @staticmethod
    def _batch_slices(
        n_samples: int,
        batch_size: int,
        generator: torch.Generator | None = None,
        device: torch.device | None = None,
    ) -> Iterator[Any]:
        """Yield minibatch indices: slices, or shuffled index tensors with a generator.

        The permutation is drawn on the CPU with ``generator`` (so it is the same on
        every device) and moved to ``device`` once per call.
        """
        batch_size = max(1, min(int(batch_size), n_samples))
        if generator is None:
            for start in range(0, n_samples, batch_size):
                yield slice(start, start + batch_size)
            return
        order = torch.randperm(n_samples, generator=generator)
        if device is not None:
            order = order.to(device)
        yield from torch.split(order, batch_size)

    def _map_batches(
        self,
        fn: Callable[[torch.Tensor], torch.Tensor],
        X: torch.Tensor,
        batch_size: int,
        modules: Iterable[torch.nn.Module] = (),
    ) -> torch.Tensor:
        """Apply ``fn`` to row batches of ``X`` in inference mode and concatenate.

        Modules are put in ``eval()`` first, so outputs never depend on how rows are
        batched (no batch statistics at inference).
        """
        for module in modules:
            module.eval()
        with torch.inference_mode():
            outputs = [fn(X[batch]) for batch in self._batch_slices(len(X), batch_size)]
        return torch.cat(outputs) if outputs else fn(X)

    # -------------------------------------------------------------- progress
    def _progress(self, iterable: Iterable[Any], *, total: int, desc: str) -> Any:
        """A tqdm bar over ``iterable`` when ``verbose`` > 0 (never stored on self)."""
        if not getattr(self, "verbose", 0):
            return iterable
        from tqdm.auto import tqdm

        return tqdm(iterable, total=total, desc=desc, leave=False)

    @staticmethod
    def _report(progress: Any, **metrics: float) -> None:
        """Show ``metrics`` on a progress bar made by :meth:`_progress`, if any."""
        if hasattr(progress, "set_postfix"):
            progress.set_postfix({k: f"{v:.4g}" for k, v in metrics.items()})

    # ------------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = super().__getstate__()  # type: ignore[assignment]
        saved = {}
        for key, value in state.items():
            dev = _first_device(value)
            if dev is not None and dev.type != "cpu":
                saved[key] = str(dev)
                state[key] = _to_device(value, torch.device("cpu"), copy_module=True)
        if saved:
            state[self._skres_saved_devices_key] = saved
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        saved = state.pop(self._skres_saved_devices_key, None)
        if saved:
            for key, dev_name in saved.items():
                try:
                    target = resolve_device(dev_name)
                except ValueError:
                    warnings.warn(
                        f"{type(self).__name__} was fitted on {dev_name!r}, which is "
                        "not available here; its fitted state is loaded on the CPU.",
                        DeviceWarning,
                        stacklevel=2,
                    )
                    target = torch.device("cpu")
                    if "device_" in state:
                        state["device_"] = target
                state[key] = _to_device(state[key], target, copy_module=False)
        super().__setstate__(state)  # type: ignore[misc]
