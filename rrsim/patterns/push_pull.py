"""push-pull: pushers PUSH, workers PULL; libzmq round-robins each pusher's messages over its
connected peers (skipping a peer whose pipe is full) and each worker fair-queues its pushers.

``bind`` decides who binds: "pusher" (workers connect to every pusher, as in the 2012 post) or
"worker" (pushers connect to every worker).  It matters when a worker dies: the binding side
drops a disconnected peer's queue, the connecting side keeps queueing into it (RFC 30).
"""

from __future__ import annotations

from typing import Any

import zmq


def plan(role: str, name: str, bind: str, endpoints: dict[str, str]) -> tuple[str | None, list[str]]:
    """The endpoint ``name`` binds (or None) and the endpoints it connects to."""
    if role == bind:
        return endpoints[name], []
    peer_prefix = "w" if role == "pusher" else "p"
    return None, [endpoint for peer, endpoint in endpoints.items() if peer.startswith(peer_prefix)]


def _common(sock: zmq.Socket, spec: dict[str, Any]) -> zmq.Socket:
    sock.linger = 0
    if spec["immediate"]:
        sock.immediate = 1  # only affects connecting sockets: queue to completed connections only
    return sock


def pusher_socket(ctx: zmq.Context, spec: dict[str, Any]) -> zmq.Socket:
    sock = ctx.socket(zmq.PUSH)
    sock.sndhwm = spec["sndhwm"]
    return _common(sock, spec)


def worker_socket(ctx: zmq.Context, spec: dict[str, Any]) -> zmq.Socket:
    sock = ctx.socket(zmq.PULL)
    sock.rcvhwm = spec["rcvhwm"]
    return _common(sock, spec)
