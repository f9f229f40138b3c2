"""Reading a polled feed: one conditional GET with a byte cap and a total deadline.

Everything a feed can do wrong on the wire (down, slow, huge, refused, bad TLS) comes back as
one FetchError whose text an operator can read on one line; the poller retries later. The body
is never parsed here and never quoted in an error."""

from __future__ import annotations

import contextlib
import email.utils
import os
import socket
import threading
import urllib.request
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from outage_notify import __version__

MAX_REDIRECTS = 5
USER_AGENT = f"outage-notify/{__version__}"
ACCEPT = "application/geo+json, application/json;q=0.9, */*;q=0.1"
RAW_CHUNK = 16 * 1024  # bytes of the wire decoded at a time
GZIP_WBITS = zlib.MAX_WBITS | 16
REASON_LIMIT = 200  # characters of an error's own text kept in the one-line reason


@dataclass(frozen=True)
class Validators:
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Fetched:
    body: bytes | None  # None: 304 Not Modified (nothing new since the validators sent)
    validators: Validators  # to send next time (kept from before on a 304)
    status: int


class FetchError(Exception):
    """The feed could not be read this time; str(e) is one line for operators (never the body)."""


def fetch(
    url: str,
    *,
    validators: Validators = Validators(),  # frozen, so one shared default is safe
    max_bytes: int,
    timeout: float,
    client: httpx.Client | None = None,
) -> Fetched:
    """GETs url unless it is unchanged since validators. timeout bounds the whole fetch
    (connect, redirects, headers and body together), not each read; two waits it cannot cut
    short: a DNS lookup (the socket is shut as soon as it connects), and headers trickled on a
    connection the caller's client reuses from its pool (each read still has timeout)."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:  # e.g. an unclosed [ of an IPv6 host
        raise FetchError(f"invalid URL: {_one_line(exc)}") from exc
    if scheme == "file":
        return _fetch_file(url, validators=validators, max_bytes=max_bytes)
    if scheme not in ("http", "https"):
        raise FetchError(f"unsupported URL scheme {scheme or '(none)'!r}: http, https or file")
    if client is not None:
        return _fetch_http(url, validators, max_bytes, timeout, client)
    with httpx.Client() as own:
        return _fetch_http(url, validators, max_bytes, timeout, own)


def _fetch_http(
    url: str, validators: Validators, max_bytes: int, timeout: float, client: httpx.Client
) -> Fetched:
    # gzip only: it is decoded here, bounded by the cap (see _Decoder).
    headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT, "Accept-Encoding": "gzip"}
    if validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    deadline = _Deadline(timeout)
    try:
        request = client.build_request(
            "GET",
            url,
            headers=headers,
            timeout=httpx.Timeout(timeout),
            extensions={"trace": deadline.trace},
        )
        with deadline:
            return _exchange(client, request, validators, max_bytes, deadline)
    except httpx.HTTPError as exc:
        if deadline.expired:
            raise FetchError(f"timed out after {timeout:g} s") from exc
        if isinstance(exc, httpx.TimeoutException):
            raise FetchError(f"timed out after {timeout:g} s ({type(exc).__name__})") from exc
        raise FetchError(_one_line(exc)) from exc
    except httpx.InvalidURL as exc:
        raise FetchError(f"invalid URL: {_one_line(exc)}") from exc


def _exchange(
    client: httpx.Client,
    request: httpx.Request,
    validators: Validators,
    max_bytes: int,
    deadline: _Deadline,
) -> Fetched:
    # Redirects by hand so the limit holds whatever client the caller passes.
    for _ in range(MAX_REDIRECTS + 1):
        response = client.send(request, stream=True, follow_redirects=False)
        try:
            deadline.watch(response)
            if response.next_request is None:
                return _read(response, validators, max_bytes, deadline)
            request = response.next_request
        finally:
            response.close()
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


def _read(
    response: httpx.Response, validators: Validators, max_bytes: int, deadline: _Deadline
) -> Fetched:
    status = response.status_code
    if status == 304:
        return Fetched(body=None, validators=_merge(validators, response), status=status)
    if not 200 <= status < 300:
        raise FetchError(f"HTTP {status} {httpx.codes.get_reason_phrase(status)}".rstrip())
    declared = response.headers.get("Content-Length", "")
    # Compressed or not, a body announced over the cap is refused before a byte of it is read.
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"response larger than {max_bytes} bytes (Content-Length {declared})")
    decoder = _Decoder(response.headers.get("Content-Encoding", ""))
    body = bytearray()
    for raw in response.iter_raw(RAW_CHUNK):
        deadline.check()
        body += decoder.decode(raw, room=max_bytes - len(body))
        if len(body) > max_bytes:
            raise FetchError(f"response larger than {max_bytes} bytes")
    deadline.check()
    decoder.finish()
    return Fetched(body=bytes(body), validators=_merge(Validators(), response), status=status)


class _Decoder:
    """Content-Encoding undone under the cap: httpx's own decoder inflates a whole network read
    at once (64 KiB of a gzip bomb is 64 MB), this one never makes more than the room left."""

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding.strip().lower()
        if self._encoding not in ("", "identity", "gzip", "x-gzip"):
            raise FetchError(f"unsupported Content-Encoding {self._encoding[:40]!r}")
        self._gzip = self._encoding not in ("", "identity")
        self._inflater = zlib.decompressobj(GZIP_WBITS)
        self._in_member = False  # some of a gzip member read, its end not yet

    def decode(self, raw: bytes, *, room: int) -> bytes:
        """At most room + 1 bytes: one more than fits tells the caller the cap is passed."""
        if not self._gzip:
            return raw
        out = bytearray()
        try:
            while raw and len(out) <= room:
                self._in_member = True
                out += self._inflater.decompress(raw, room + 1 - len(out))
                raw = self._inflater.unconsumed_tail
                if self._inflater.eof:  # gzip allows several members one after another
                    raw = self._inflater.unused_data + raw
                    self._inflater = zlib.decompressobj(GZIP_WBITS)
                    self._in_member = False
        except zlib.error as exc:
            raise FetchError(f"invalid gzip body: {exc}") from exc
        return bytes(out)

    def finish(self) -> None:
        if self._in_member:
            raise FetchError("gzip body cut short")


def _merge(previous: Validators, response: httpx.Response) -> Validators:
    return Validators(
        etag=response.headers.get("ETag") or previous.etag,
        last_modified=response.headers.get("Last-Modified") or previous.last_modified,
    )


class _Deadline:
    """A total time limit for one fetch. httpx's timeouts are per read, so a server that
    trickles a byte just inside each one would hold the poller forever; at the deadline this
    shuts the sockets down, which wakes the blocked read at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._timer.cancel()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook: sees each new connection (and its TLS wrapping) as it opens."""
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            self._add(info.get("return_value"))

    def watch(self, response: httpx.Response) -> None:
        # A pooled connection from the caller's client opens no new socket to trace.
        self._add(response.extensions.get("network_stream"))

    def check(self) -> None:
        if self.expired:
            raise FetchError(f"timed out after {self.seconds:g} s")

    def _add(self, stream: Any) -> None:
        sock = stream.get_extra_info("socket") if stream is not None else None
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    # OSError: already closed, or a plain socket since wrapped (and detached) by TLS.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _fetch_file(url: str, *, validators: Validators, max_bytes: int) -> Fetched:
    """A local file read like a feed: the same cap, and an unchanged file (same mtime and size)
    answers as a 304 would."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise FetchError(f"file URL names a host ({parts.netloc}): only local paths")
    path = urllib.request.url2pathname(unquote(parts.path))
    if not os.path.isabs(path):
        raise FetchError("file URL must be an absolute path")
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            # Last-Modified has whole seconds only; the ETag tells apart two writes in one second.
            current = Validators(
                etag=f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"',
                last_modified=email.utils.formatdate(stat.st_mtime, usegmt=True),
            )
            if _unchanged(validators, current):
                return Fetched(body=None, validators=current, status=304)
            if stat.st_size > max_bytes:
                raise FetchError(f"file larger than {max_bytes} bytes ({stat.st_size})")
            body = handle.read(max_bytes + 1)  # the file may grow after fstat
    except OSError as exc:
        raise FetchError(_one_line(exc)) from exc
    if len(body) > max_bytes:
        raise FetchError(f"file larger than {max_bytes} bytes")
    return Fetched(body=body, validators=current, status=200)


def _unchanged(sent: Validators, current: Validators) -> bool:
    if sent.etag is not None:
        return sent.etag == current.etag
    return sent.last_modified is not None and sent.last_modified == current.last_modified


def _one_line(exc: BaseException) -> str:
    """The error's class and its own words, on one line: operators read these in a log."""
    text = " ".join(str(exc).split())
    if len(text) > REASON_LIMIT:
        text = text[: REASON_LIMIT - 1] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
