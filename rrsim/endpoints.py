"""ZeroMQ tcp endpoints as the user writes them: ``tcp://HOST:PORT`` and ``--listen tcp://ADDRESS:PORT``.

Words only: nothing here resolves a name or opens a socket.
"""

from __future__ import annotations

import ipaddress

from rrsim.errors import UserError


def parse_listen(value: str, where: str) -> tuple[str, int]:
    """(address, port) of ``tcp://ADDRESS:PORT``, or one line saying what is wrong."""
    if not value.startswith("tcp://") or ":" not in value[6:]:
        raise UserError(f"{where}: must be tcp://ADDRESS:PORT, got {value!r}")
    host, _, port_text = value[6:].rpartition(":")
    host = host.strip("[]")
    try:
        port = int(port_text)
        ipaddress.ip_address(host)
    except ValueError:
        raise UserError(f"{where}: must be tcp://ADDRESS:PORT with a numeric address and port, got {value!r}") from None
    if not 0 <= port <= 65535:
        raise UserError(f"{where}: port {port} is not between 0 and 65535")
    return host, port


def parse_connect(value: str, where: str, hint: str = "") -> tuple[str, int]:
    """(host, port) of ``tcp://HOST:PORT`` to connect to (HOST may be a name: another machine's), or
    one line naming ``where``; ``hint`` says where the user finds the right value."""
    host, _, port_text = value.removeprefix("tcp://").rpartition(":")
    if not value.startswith("tcp://") or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UserError(f"{where}: must be tcp://HOST:PORT{hint}, got {value!r}")
    return host.strip("[]"), int(port_text)


def is_loopback(host: str) -> bool:
    return ipaddress.ip_address(host).is_loopback


def join_label(here_only: bool) -> str:
    """What stands before the join line: listening on loopback, only this machine can join."""
    return "to join (this machine only): " if here_only else "to join: "


def url_host(host: str) -> str:
    """``host`` as it stands in an endpoint: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host else host


def parse_web(value: str, where: str) -> tuple[str, int]:
    """(address, port) of ``PORT`` (on 127.0.0.1) or ``ADDRESS:PORT`` for ``rrsim --web``.

    A wildcard address is refused: the page tells the browser the address to reach the run at,
    and ``0.0.0.0`` reaches nothing from another machine."""
    host, _, port_text = value.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
        address = ipaddress.ip_address(host)
    except ValueError:
        raise UserError(f"{where}: must be PORT or ADDRESS:PORT with a numeric address and port, got {value!r}") from None
    if not 0 < port <= 65535:
        raise UserError(f"{where}: port {port} is not between 1 and 65535")
    if address.is_unspecified:
        raise UserError(f"{where}: name the address browsers reach this machine at, not {host}")
    return host, port
