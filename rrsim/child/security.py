"""CURVE on a child's sockets (and the run's): a client presents its key pair to the run's key,
a server takes the run's key and lets in the keys of an allow-list (the guide's Ironhouse)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import zmq

from rrsim.child.spec import Curve

if TYPE_CHECKING:
    from zmq.auth.thread import ThreadAuthenticator

Keys = tuple[bytes, bytes, bytes]  # our public key, our secret key, the run's public key


def curve_keys(curve: Curve | None) -> Keys | None:
    """The keys a spec's ``curve`` names, for a secure run; else None."""
    if curve is None:
        return None
    import zmq.auth  # deferred for start-up speed: only a secure run reads key files

    public, secret = zmq.auth.load_certificate(curve.secret_file)
    assert secret is not None, f"{curve.secret_file} holds no secret key"
    return public, secret, curve.server_key.encode()


def secure_client(sock: zmq.Socket[bytes], public: bytes, secret: bytes, server_public: bytes) -> None:
    """Make ``sock`` a CURVE client presenting (``public``, ``secret``) to the server ``server_public``."""
    sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = public, secret, server_public


def secure_server(sock: zmq.Socket[bytes], public: bytes, secret: bytes) -> None:
    """Make ``sock`` a CURVE server with the key pair (``public``, ``secret``), before it binds."""
    sock.curve_secretkey, sock.curve_publickey = secret, public
    sock.curve_server = True


def plain_authenticator(ctx: zmq.Context[zmq.Socket[bytes]]) -> ThreadAuthenticator:
    """pyzmq's ZAP handler for ``ctx``, not yet started."""
    from zmq.auth.thread import (
        ThreadAuthenticator,  # deferred for start-up speed: it imports asyncio
    )

    return ThreadAuthenticator(ctx)


def start_authenticator(auth: ThreadAuthenticator, allowed_dir: Path | str) -> ThreadAuthenticator:
    """Start ``auth`` letting in the CURVE keys in ``allowed_dir`` (Ironhouse)."""
    auth.start()
    auth.configure_curve(domain="*", location=str(allowed_dir))
    return auth
