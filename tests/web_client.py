"""A minimal client of livecam serve for the tests: raw sockets, so the tests
control buffering and see exactly what the server sends."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

import cv2
import numpy as np


@dataclass
class Part:
    headers: dict[str, str]
    jpeg: bytes

    @property
    def seq(self) -> int:
        return int(self.headers["x-seq"])

    def image(self) -> np.ndarray:
        return cv2.imdecode(np.frombuffer(self.jpeg, np.uint8), cv2.IMREAD_COLOR)


class MjpegViewer:
    """Reads ``/stream.mjpg`` part by part (as HTTP/1.0) over a socket with a small receive
    buffer (``receive_buffer`` bytes), like a viewer on a slow link."""

    def __init__(self, url: str, receive_buffer: int | None = 32 * 1024, headers=None) -> None:
        parts = urlsplit(url)
        self.sock = socket.socket()
        if receive_buffer:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(10)
        self.sock.connect((parts.hostname, parts.port))
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.sock.sendall(
            # HTTP/1.0: the parts come unchunked, and the end is the connection's
            f"GET {path} HTTP/1.0\r\nHost: {parts.netloc}\r\n{extra}\r\n".encode()
        )
        self.buffer = b""
        head = self._until(b"\r\n\r\n").decode("latin-1")
        self.status = int(head.split()[1])
        self.headers = _headers(head.split("\r\n")[1:])

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("the server closed the stream")
        self.buffer += chunk

    def _until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(marker, 1)
        return head

    def _exactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            self._fill()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def body(self) -> bytes:
        """The rest of a non-streamed response (e.g. a 503's text)."""
        length = int(self.headers.get("content-length", "0"))
        return self._exactly(length)

    def next_part(self) -> Part:
        head = self._until(b"\r\n\r\n").decode("latin-1")
        lines = [line for line in head.split("\r\n") if line and not line.startswith("--")]
        headers = _headers(lines)
        jpeg = self._exactly(int(headers["content-length"]))
        self._exactly(2)  # CRLF after the part
        return Part(headers, jpeg)

    def close(self) -> None:
        self.sock.close()


def _headers(lines: list[str]) -> dict[str, str]:
    pairs = (line.split(":", 1) for line in lines if ":" in line)
    return {name.strip().lower(): value.strip() for name, value in pairs}


def get(url: str, headers=None, data=None, method=None):
    """``(status, headers, body)`` of one request, errors included."""
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def get_json(url: str):
    status, _, body = get(url)
    assert status == 200, (status, body)
    return json.loads(body)


def post_json(url: str, body, headers=None):
    status, _, data = get(
        url,
        headers={"content-type": "application/json", **(headers or {})},
        data=json.dumps(body).encode(),
        method="POST",
    )
    return status, json.loads(data)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
