"""Camera credentials kept out of config, settings and session files (issue 18, item 2). No Qt.

A camera URL with a password (``rtsp://nurse:s3cret@cam/stream``) is split into a reference URL
without the password (``rtsp://nurse@cam/stream``) and a credential reference
(``"keyring:<id>"`` or ``"file:<id>"``); only those two are ever written (ward config, settings).
The password itself goes to

* the operating system's keyring through the ``keyring`` package (Secret Service / KWallet on
  Linux, Keychain on macOS, Credential Manager on Windows) when a usable backend exists:
  reference ``keyring:<id>``;
* otherwise an owner-only file (folder 0700, file 0600) ``credentials.json`` in the user's
  platform config folder (``platformdirs.user_config_dir("auepa-monitor")``): reference
  ``file:<id>``. The password is plain text in that file, readable by the account only (like
  ``~/.netrc``); the keyring is the better place where one exists.

At open time :func:`resolve_url` puts the password back into the URL, in memory only.

Usage::

    store = CredentialStore()
    ref_url, ref = store.store_url("rtsp://nurse:s3cret@cam/stream", "bed-1")
    # write ref_url and ref to the config ...
    url = store.resolve_url(ref_url, ref)  # "rtsp://nurse:s3cret@cam/stream", for the opener
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from .errors import AuepaError
from .private_files import private_dir, write_private_text

SERVICE = "auepa-monitor"
KEYRING = "keyring:"
FILE = "file:"

log = logging.getLogger(__name__)

_ID_RE = re.compile(r"^[A-Za-z0-9._@-]{1,128}$")


class CredentialError(AuepaError):
    """A credential reference that cannot be resolved (missing entry, bad reference)."""


def split_url(url: str) -> tuple[str, str, str]:
    """``scheme://user:pass@host/p`` -> (``scheme://user@host/p``, user, password); no password: (url, user, '')."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, "", ""
    cred, _, host = parts.netloc.rpartition("@")
    user, _, password = cred.partition(":")
    ref_netloc = f"{user}@{host}" if user else host
    return urlunsplit(parts._replace(netloc=ref_netloc)), unquote(user), unquote(password)


def join_url(url: str, user: str, password: str) -> str:
    """Put ``user:password`` into ``url`` (replacing any user part it has), URL-quoted."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    cred = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    return urlunsplit(parts._replace(netloc=f"{cred}@{host}" if cred else host))


def default_path() -> Path:
    """``credentials.json`` in the user's platform config folder."""
    import platformdirs

    return Path(platformdirs.user_config_dir("auepa-monitor", appauthor=False)) / "credentials.json"


def usable_keyring() -> object | None:
    """The keyring backend when a usable one exists (not keyring's 'fail' or 'null' backend), else None."""
    try:
        import keyring
        from keyring.backends import chainer, fail
    except Exception:  # noqa: BLE001 - not installed, or a broken backend import: the file fallback
        return None
    try:
        kr = keyring.get_keyring()
    except Exception:  # noqa: BLE001
        return None
    if isinstance(kr, fail.Keyring) or type(kr).__module__.endswith(".null"):
        return None
    if isinstance(kr, chainer.ChainerBackend) and not kr.backends:
        return None
    try:
        if float(getattr(kr, "priority", 1)) <= 0:
            return None
    except Exception:  # noqa: BLE001 - a backend whose priority check fails is not usable
        return None
    return kr


class CredentialStore:
    """Stores and resolves camera credentials (see the module docstring).

    Args:
        path: the fallback file (default :func:`default_path`).
        use_keyring: True/False to force; None: the keyring when :func:`usable_keyring` finds one.
    """

    def __init__(self, path: str | Path | None = None, use_keyring: bool | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self._kr = usable_keyring() if use_keyring in (None, True) else None
        if use_keyring and self._kr is None:
            raise CredentialError("no usable keyring backend (install one, or use the owner-only file)")

    @property
    def backend(self) -> str:
        """'keyring (<backend name>)' or 'file <path>': where new credentials go."""
        return f"keyring ({type(self._kr).__name__})" if self._kr is not None else f"file {self.path}"

    # -- the file ------------------------------------------------------------------------
    def _load(self) -> dict[str, dict[str, str]]:
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise CredentialError(f"{self.path}: not a readable credentials file ({e})") from None
        return data if isinstance(data, dict) else {}

    def _save(self, data: dict[str, dict[str, str]]) -> None:
        private_dir(self.path.parent)
        write_private_text(self.path, json.dumps(data, indent=1, sort_keys=True))

    # -- API -------------------------------------------------------------------------------
    def put(self, cred_id: str, user: str, password: str) -> str:
        """Store a credential; returns its reference (``keyring:<id>`` or ``file:<id>``)."""
        if not _ID_RE.match(cred_id):
            raise CredentialError(f"credential id {cred_id!r}: use letters, digits and . _ @ - only")
        if self._kr is not None:
            self._kr.set_password(SERVICE, cred_id, json.dumps({"user": user, "password": password}))
            return KEYRING + cred_id
        data = self._load()
        data[cred_id] = {"user": user, "password": password}
        self._save(data)
        return FILE + cred_id

    def get(self, ref: str) -> tuple[str, str]:
        """(user, password) of a reference; :class:`CredentialError` when there is none."""
        kind, cred_id = _parse(ref)
        if kind == KEYRING:
            kr = self._kr or usable_keyring()
            if kr is None:
                raise CredentialError(f"{ref}: no usable keyring on this machine to read it from")
            raw = kr.get_password(SERVICE, cred_id)
            if raw is None:
                raise CredentialError(f"{ref}: no such entry in the keyring")
            d = json.loads(raw)
            return d.get("user", ""), d.get("password", "")
        d = self._load().get(cred_id)
        if d is None:
            raise CredentialError(f"{ref}: no such entry in {self.path}")
        return d.get("user", ""), d.get("password", "")

    def delete(self, ref: str) -> None:
        kind, cred_id = _parse(ref)
        if kind == KEYRING:
            kr = self._kr or usable_keyring()
            if kr is not None:
                try:
                    kr.delete_password(SERVICE, cred_id)
                except Exception:  # noqa: BLE001 - keyring.errors.PasswordDeleteError: already gone
                    pass
            return
        data = self._load()
        if data.pop(cred_id, None) is not None:
            self._save(data)

    def store_url(self, url: str, cred_id: str) -> tuple[str, str]:
        """Move a URL's password into the store: (URL without the password, reference).

        A URL without a password gives (url, '').
        """
        ref_url, user, password = split_url(url)
        if not password:
            return url, ""
        return ref_url, self.put(cred_id, user, password)

    def resolve_url(self, url: str, ref: str) -> str:
        """The URL to open: ``url`` with the referenced credential put in ('' ref: ``url`` as is)."""
        if not ref:
            return url
        user, password = self.get(ref)
        return join_url(url, user or split_url(url)[1], password)


def _parse(ref: str) -> tuple[str, str]:
    for kind in (KEYRING, FILE):
        if ref.startswith(kind) and _ID_RE.match(ref[len(kind):]):
            return kind, ref[len(kind):]
    raise CredentialError(f"{ref!r}: not a credential reference (keyring:<id> or file:<id>)")


__all__ = ["CredentialError", "CredentialStore", "default_path", "join_url", "split_url", "usable_keyring"]
