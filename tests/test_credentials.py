"""Camera credentials (issue 18 item 2): the real ``keyring`` package when a backend exists,
else an owner-only file; configs hold only a reference."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from auepa_monitor.core.credentials import (
    CredentialError,
    CredentialStore,
    join_url,
    split_url,
    usable_keyring,
)

SECRET = "s3cret:/@x"  # characters a URL must quote


class MemoryKeyring(KeyringBackend):
    """A real keyring backend (keyring's own API), in memory: stands in for the OS keyring."""

    priority = 5  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.items.get((service, username))

    def set_password(self, service, username, password):
        self.items[(service, username)] = password

    def delete_password(self, service, username):
        del self.items[(service, username)]


@pytest.fixture
def memory_keyring():
    old = keyring.get_keyring()
    kr = MemoryKeyring()
    keyring.set_keyring(kr)
    try:
        yield kr
    finally:
        keyring.set_keyring(old)


def test_url_split_and_join_round_trip() -> None:
    url = join_url("rtsp://nurse@10.0.0.5:554/stream1", "nurse", SECRET)
    assert "s3cret" in url and "@x@" not in url  # the password's own '@' is quoted
    ref_url, user, password = split_url(url)
    assert ref_url == "rtsp://nurse@10.0.0.5:554/stream1" and user == "nurse" and password == SECRET
    assert split_url("http://cam/x") == ("http://cam/x", "", "")


def test_file_fallback_is_owner_only_and_resolves(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "auepa-monitor" / "credentials.json"
    store = CredentialStore(path, use_keyring=False)
    assert store.backend.startswith("file ")
    ref_url, ref = store.store_url(f"rtsp://nurse:{SECRET.replace('/', '%2F').replace('@', '%40')}@cam/s", "bed-1")
    assert ref == "file:bed-1" and ref_url == "rtsp://nurse@cam/s"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again = CredentialStore(path, use_keyring=False)  # a new process reads it back
    url = again.resolve_url(ref_url, ref)
    assert split_url(url)[2] == SECRET
    again.delete(ref)
    with pytest.raises(CredentialError):
        again.get(ref)
    with pytest.raises(CredentialError):
        again.get("plain:bed-1")
    with pytest.raises(CredentialError):
        again.put("../etc", "u", "p")


def test_real_keyring_package_when_a_backend_exists(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    assert usable_keyring() is memory_keyring
    path = tmp_path / "credentials.json"
    store = CredentialStore(path)
    assert store.backend == "keyring (MemoryKeyring)"
    ref_url, ref = store.store_url("http://nurse:pw123@127.0.0.1:8080/video", "bed-2")
    assert ref == "keyring:bed-2" and "pw123" not in ref_url
    assert not path.exists()  # nothing on disk
    assert json.loads(memory_keyring.items[("auepa-monitor", "bed-2")])["password"] == "pw123"
    assert store.resolve_url(ref_url, ref) == "http://nurse:pw123@127.0.0.1:8080/video"
    store.delete(ref)
    assert not memory_keyring.items


def test_no_backend_here_means_the_file(tmp_path: Path) -> None:
    """This machine's real keyring (none on a CI box: keyring's 'fail' backend) decides the default."""
    store = CredentialStore(tmp_path / "c.json")
    if usable_keyring() is None:
        assert store.backend.startswith("file ")
        with pytest.raises(CredentialError):
            CredentialStore(tmp_path / "c.json", use_keyring=True)
    else:
        assert store.backend.startswith("keyring")
