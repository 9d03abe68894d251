"""HTTP request bodies on the WebSocket server's port (for `POST /sim/control`)."""
from __future__ import annotations

import re
from typing import Any

from websockets.asyncio.server import ServerConnection

MAX_REQUEST_HEAD_BYTES = 64 * 1024


class BodyReadingConnection(ServerConnection):
    """A ServerConnection that also accepts a request body, for `POST /sim/control`.

    websockets parses only body-less requests (a WebSocket handshake has none) and refuses a
    Content-Length. This peels the body off before the head reaches the parser and keeps it in
    `request_body`; WebSocket traffic after the handshake passes through untouched.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_body = b""
        self._head: bytearray | None = bytearray()

    def data_received(self, data: bytes) -> None:
        if self._head is None:
            super().data_received(data)
            return
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0 and len(self._head) <= MAX_REQUEST_HEAD_BYTES:
            return  # wait for the rest of the head
        head, rest = bytes(self._head[: end + 4]), bytes(self._head[end + 4:])
        if end < 0:
            head, rest = bytes(self._head), b""
        match = re.search(rb"(?im)^content-length:[ \t]*(\d+)[ \t]*\r\n", head)
        length = int(match.group(1)) if match else 0
        if len(rest) < length:
            return  # wait for the rest of the body
        self._head = None
        self.request_body = rest[:length]
        if match:
            head = head[: match.start()] + head[match.end():]
        super().data_received(head + rest[length:])

    def eof_received(self) -> bool | None:
        if self._head:
            pending, self._head = bytes(self._head), None
            super().data_received(pending)
        return super().eof_received()

