"""What one peer may hold: uvicorn's HTTP/1.1 protocol with a deadline for the
request head and a cap on connections per peer address.

uvicorn's ``limit_concurrency`` counts every open connection, including ones
that never sent a byte, and it has no deadline for the request head: a few
dozen idle sockets made every request 503. Here an idle or trickling
connection is closed when its head is not complete in time, and one address
cannot open more than its share, so nobody else is locked out.
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD_TIMEOUT_S = 10.0  # from the connection (or the last response) to a complete request head


class GuardedH11Protocol(H11Protocol):
    """Subclassed once per server by :func:`guarded_protocol` (its state is per server)."""

    head_timeout_s: float = HEAD_TIMEOUT_S
    max_per_peer: int = 32
    peers: dict[str, int]

    _head_deadline: asyncio.TimerHandle | None = None
    _peer: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        peer = self.client[0] if self.client else "?"
        if self.peers.get(peer, 0) >= self.max_per_peer:
            transport.close()  # over this address's share: refused before reading a byte
            return
        self._peer = peer
        self.peers[peer] = self.peers.get(peer, 0) + 1
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # a whole request head has arrived
            self._disarm_head_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_deadline()  # the next request on this connection gets as long

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._release()  # the socket belongs to the WebSocket now (the app bounds those)
        super().handle_websocket_upgrade(event)

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self._head_deadline = self.loop.call_later(self.head_timeout_s, self._head_overdue)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_overdue(self) -> None:
        self._head_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def _release(self) -> None:
        self._disarm_head_deadline()
        if self._peer is not None:
            left = self.peers.get(self._peer, 1) - 1
            if left > 0:
                self.peers[self._peer] = left
            else:
                self.peers.pop(self._peer, None)
            self._peer = None


def guarded_protocol(max_per_peer: int, head_timeout_s: float = HEAD_TIMEOUT_S) -> type:
    """A protocol class for one server: its own peer counts and limits."""
    return type(
        "ServerH11Protocol",
        (GuardedH11Protocol,),
        {"max_per_peer": max_per_peer, "head_timeout_s": head_timeout_s, "peers": {}},
    )
