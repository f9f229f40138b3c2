"""A local feed server: serves the current snapshot of each path, as an OMS or CAP source would,
with ETag / Last-Modified and 304s, and plays the ways a feed goes wrong (an error status, a
hang, a trickle of bytes). Tests set a path's snapshot, poll, set the next one, poll again."""

from __future__ import annotations

import email.utils
import hashlib
import sys
import threading
import time
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from tests.standins.net import free_port


@dataclass(frozen=True)
class Snapshot:
    body: bytes
    etag: str | None
    modified: float | None  # epoch seconds (whole) for Last-Modified, None: not sent
    content_type: str
    content_encoding: str | None
    chunked: bool


@dataclass(frozen=True)
class Failure:
    status: int


@dataclass(frozen=True)
class Hang:
    seconds: float


@dataclass(frozen=True)
class Trickle:
    body: bytes
    interval: float  # seconds between single bytes
    stage: Literal["headers", "body"]


@dataclass(frozen=True)
class Redirect:
    to: str  # a path on this server or an absolute URL
    status: int


Route = Snapshot | Failure | Hang | Trickle | Redirect


class _Server(ThreadingHTTPServer):
    # A hung or trickling handler must not hold up stop(): handlers end on `stopping`.
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-answer (the cap, the deadline) is a case under test, not
        # a failure of the stand-in; anything else still prints.
        if not isinstance(sys.exception(), ConnectionError):
            super().handle_error(request, client_address)


class FeedServer:
    def __init__(self) -> None:
        self.requests: list[tuple[str, Message]] = []  # (path, headers) of every request
        self._routes: dict[str, Route] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def url(self, path: str) -> str:
        assert self._server is not None, "start the server first"
        return f"http://127.0.0.1:{self._server.server_port}{path}"

    def serve(
        self,
        path: str,
        body: bytes,
        *,
        etag: bool = True,
        last_modified: bool = True,
        content_type: str = "application/geo+json",
        content_encoding: str | None = None,
        chunked: bool = False,
    ) -> None:
        """Sets the current snapshot of path: body is sent as it is (already compressed when
        content_encoding is given), chunked without a Content-Length if asked. The ETag is
        derived from the body; Last-Modified moves on (by at least a second, so whole-second
        dates still tell) only when the body changes."""
        with self._lock:
            previous = self._routes.get(path)
            modified: float | None = None
            if last_modified:
                if isinstance(previous, Snapshot) and previous.body == body and previous.modified:
                    modified = previous.modified
                else:
                    before = previous.modified if isinstance(previous, Snapshot) else None
                    modified = max(float(int(time.time())), (before or 0.0) + 1.0)
            self._routes[path] = Snapshot(
                body=body,
                etag=f'"{hashlib.sha256(body).hexdigest()[:20]}"' if etag else None,
                modified=modified,
                content_type=content_type,
                content_encoding=content_encoding,
                chunked=chunked,
            )

    def fail(self, path: str, status: int) -> None:
        self._set(path, Failure(status))

    def hang(self, path: str, seconds: float) -> None:
        """Accepts the request and sends nothing for seconds (then closes)."""
        self._set(path, Hang(seconds))

    def trickle(
        self,
        path: str,
        body: bytes = b'{"type": "FeatureCollection", "features": []}',
        *,
        interval: float = 0.05,
        stage: Literal["headers", "body"] = "body",
    ) -> None:
        """Sends one byte every interval: of the body after prompt headers, or of the headers
        themselves. Each read is quick; the whole never is."""
        self._set(path, Trickle(body, interval, stage))

    def redirect(self, path: str, to: str, status: int = 302) -> None:
        self._set(path, Redirect(to, status))

    def start(self) -> FeedServer:
        feeds = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with feeds._lock:
                    feeds.requests.append((self.path, self.headers))
                    route = feeds._routes.get(self.path)
                feeds._answer(self, route)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _set(self, path: str, route: Route) -> None:
        with self._lock:
            self._routes[path] = route

    def _answer(self, handler: BaseHTTPRequestHandler, route: Route | None) -> None:
        if route is None:
            _send_empty(handler, 404)
        elif isinstance(route, Failure):
            _send_empty(handler, route.status)
        elif isinstance(route, Redirect):
            target = route.to if "://" in route.to else self.url(route.to)
            _send_empty(handler, route.status, {"Location": target})
        elif isinstance(route, Hang):
            self._stopping.wait(route.seconds)
            handler.close_connection = True
        elif isinstance(route, Trickle):
            self._trickle(handler, route)
        elif _not_modified(route, handler.headers):
            _send_empty(handler, 304, _validator_headers(route))
        else:
            _send_snapshot(handler, route)

    def _trickle(self, handler: BaseHTTPRequestHandler, route: Trickle) -> None:
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: application/geo+json\r\n"
            f"Content-Length: {len(route.body)}\r\n\r\n"
        ).encode()
        slow = route.body if route.stage == "body" else head + route.body
        if route.stage == "body":
            handler.wfile.write(head)
        handler.close_connection = True
        for i in range(len(slow)):
            handler.wfile.write(slow[i : i + 1])
            handler.wfile.flush()
            if self._stopping.wait(route.interval):
                return


def _not_modified(snapshot: Snapshot, headers: Message) -> bool:
    # RFC 9110 13.2.2: If-None-Match, when present, decides; If-Modified-Since only without it.
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        if snapshot.etag is None:
            return False
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return "*" in tags or snapshot.etag in tags
    since = headers.get("If-Modified-Since")
    if since is None or snapshot.modified is None:
        return False
    try:
        parsed = email.utils.parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    return snapshot.modified <= parsed.timestamp()


def _validator_headers(snapshot: Snapshot) -> dict[str, str]:
    headers = {}
    if snapshot.etag is not None:
        headers["ETag"] = snapshot.etag
    if snapshot.modified is not None:
        headers["Last-Modified"] = email.utils.formatdate(snapshot.modified, usegmt=True)
    return headers


def _send_empty(
    handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str] | None = None
) -> None:
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    if status != 304:
        handler.send_header("Content-Length", "0")
    handler.end_headers()


def _send_snapshot(handler: BaseHTTPRequestHandler, snapshot: Snapshot) -> None:
    wire = snapshot.body
    handler.send_response(200)
    handler.send_header("Content-Type", snapshot.content_type)
    for name, value in _validator_headers(snapshot).items():
        handler.send_header(name, value)
    if snapshot.content_encoding is not None:
        handler.send_header("Content-Encoding", snapshot.content_encoding)
    if snapshot.chunked:
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for start in range(0, len(wire), 16384):
            piece = wire[start : start + 16384]
            handler.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        handler.wfile.write(b"0\r\n\r\n")
    else:
        handler.send_header("Content-Length", str(len(wire)))
        handler.end_headers()
        handler.wfile.write(wire)
