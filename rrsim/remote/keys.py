"""CURVE keys for runs that other machines join: the guide's Ironhouse, with pyzmq's ``zmq.auth``.

A keys directory (``~/.config/rrsim`` unless ``--keys DIR``) holds one key pair made with
``zmq.auth.create_certificates`` (``rrsim.key``, public; ``rrsim.key_secret``, secret) and
``allowed/``, the public keys of the workers let in.  On the run host the pair is the run's own
(every socket remote peers reach is a CURVE server with it); on a worker's machine it is the
worker's (``rrsim worker --key``).  Everything is made owner-only: the directories 0700, the
files 0600, whatever the umask.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth
import zmq.utils.z85

from rrsim.errors import UserError

NAME = "rrsim"  # rrsim.key and rrsim.key_secret
ALLOWED = "allowed"
Z85_KEY_LENGTH = 40  # a 32-byte CURVE key in Z85 (RFC 32)


def default_dir() -> Path:
    """``$XDG_CONFIG_HOME/rrsim``, else ``~/.config/rrsim``."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "rrsim"


def keys_dir(value: str | None) -> Path:
    return Path(value) if value else default_dir()


@dataclass(frozen=True)
class KeyPair:
    """A CURVE key pair in Z85, and the directory it was read from."""

    public: bytes
    secret: bytes
    directory: Path

    @property
    def public_file(self) -> Path:
        return self.directory / f"{NAME}.key"

    @property
    def secret_file(self) -> Path:
        return self.directory / f"{NAME}.key_secret"

    @property
    def allowed_dir(self) -> Path:
        return self.directory / ALLOWED


def _private_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)
    except OSError as error:
        raise UserError(f"{path}: cannot make a private directory: {error.strerror}") from None


def create(directory: Path) -> tuple[KeyPair, bool]:
    """The key pair in ``directory``, made now if there is none; True if it was made now."""
    _private_dir(directory)
    _private_dir(directory / ALLOWED)
    secret_file = directory / f"{NAME}.key_secret"
    made = not secret_file.exists()
    if made:
        # create_certificates opens with the umask's modes: tighten the umask so that the secret
        # is never readable by others, not even between its creation and the chmod.
        umask = os.umask(0o077)
        try:
            zmq.auth.create_certificates(directory, NAME)
        except OSError as error:
            raise UserError(f"{directory}: cannot write the key pair: {error.strerror}") from None
        finally:
            os.umask(umask)
        for path in (secret_file, directory / f"{NAME}.key"):
            os.chmod(path, 0o600)
    return load_pair(secret_file), made


def load_pair(secret_file: Path) -> KeyPair:
    """The key pair in a ``.key_secret`` file, or one line saying what is wrong with it."""
    public, secret = _load(secret_file, "secret key file")
    if secret is None:
        raise UserError(f"{secret_file}: holds no secret key (give the .key_secret file, not the public .key)")
    return KeyPair(public, secret, secret_file.parent)


def find_pair(directory: Path) -> KeyPair | None:
    """The run host's key pair in ``directory``, or None if ``rrsim keys`` has not made one."""
    secret_file = directory / f"{NAME}.key_secret"
    return load_pair(secret_file) if secret_file.exists() else None


def load_public(path: Path) -> bytes:
    public, secret = _load(path, "public key file")
    if secret is not None:
        raise UserError(f"{path}: holds a secret key; give the public one (rrsim.key), the secret stays on its machine")
    return public


def _load(path: Path, what: str) -> tuple[bytes, bytes | None]:
    if not path.is_file():
        raise UserError(f"{path}: no such {what}")
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not a ZeroMQ certificate (made by rrsim keys or zmq.auth): {error}") from None
    for key in (public, secret):
        if key is not None and not _is_z85_key(key):
            raise UserError(f"{path}: a key is not {Z85_KEY_LENGTH} characters of Z85")
    return public, secret


def _is_z85_key(key: bytes) -> bool:
    if len(key) != Z85_KEY_LENGTH:
        return False
    try:
        zmq.utils.z85.decode(key)
    except (ValueError, KeyError, TypeError):
        return False
    return True


def allow(directory: Path, public_file: Path) -> Path:
    """Admit the worker whose public key is in ``public_file``: copy it into ``allowed/``."""
    public = load_public(public_file)
    allowed = directory / ALLOWED
    _private_dir(directory)
    _private_dir(allowed)
    for existing in allowed.glob("*.key"):
        try:
            if zmq.auth.load_certificate(existing)[0] == public:
                return existing
        except (OSError, ValueError):
            continue  # someone else's file: not ours to judge here
    # Named by the file it came from and the key's start, so two workers' rrsim.key never collide.
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in public_file.stem)
    tag = "".join(c if c.isalnum() else "_" for c in public.decode()[:8])
    target = allowed / f"{stem}-{tag}.key"
    umask = os.umask(0o077)
    try:
        shutil.copyfile(public_file, target)
        os.chmod(target, 0o600)
    except OSError as error:
        raise UserError(f"{target}: cannot write: {error.strerror}") from None
    finally:
        os.umask(umask)
    return target


def allowed_keys(directory: Path) -> list[bytes]:
    """The public keys in ``allowed/``, as ``zmq.auth`` reads them."""
    path = directory / ALLOWED
    return list(zmq.auth.load_certificates(path)) if path.is_dir() else []
