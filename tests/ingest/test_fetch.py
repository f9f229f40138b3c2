"""Fetching a polled feed over HTTP (and file://): conditional GET, the byte cap, the total
deadline, and every way a feed fails turning into one readable FetchError."""

from __future__ import annotations

import datetime as dt
import gzip
import os
import socket
import ssl
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from outage_notify import __version__
from outage_notify.ingest.fetch import Fetched, FetchError, Validators, fetch
from tests.standins.feeds import FeedServer
from tests.standins.net import free_port

CAP = 64 * 1024
TIMEOUT = 0.8
SNAPSHOT_1 = b'{"type": "FeatureCollection", "features": []}'
SNAPSHOT_2 = b'{"type": "FeatureCollection", "features": [{"type": "Feature"}]}'


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


def get(
    url: str,
    validators: Validators | None = None,
    *,
    max_bytes: int = CAP,
    timeout: float = TIMEOUT,
    client: httpx.Client | None = None,
) -> Fetched:
    return fetch(
        url,
        validators=validators or Validators(),
        max_bytes=max_bytes,
        timeout=timeout,
        client=client,
    )


def failure(url: str, **kwargs: Any) -> str:
    with pytest.raises(FetchError) as caught:
        get(url, **kwargs)
    reason = str(caught.value)
    assert "\n" not in reason and reason
    return reason


# Conditional GET


def test_first_fetch_returns_the_body_and_its_validators(feeds: FeedServer) -> None:
    feeds.serve("/feed", SNAPSHOT_1)
    fetched = get(feeds.url("/feed"))
    assert fetched.status == 200
    assert fetched.body == SNAPSHOT_1
    assert fetched.validators.etag and fetched.validators.etag.startswith('"')
    assert fetched.validators.last_modified and fetched.validators.last_modified.endswith("GMT")
    path, headers = feeds.requests[0]
    assert path == "/feed"
    assert headers["User-Agent"] == f"outage-notify/{__version__}"
    assert "application/geo+json" in headers["Accept"]
    assert headers["Accept-Encoding"] == "gzip"
    assert headers["If-None-Match"] is None and headers["If-Modified-Since"] is None


def test_an_unchanged_feed_answers_304_and_keeps_the_validators(feeds: FeedServer) -> None:
    feeds.serve("/feed", SNAPSHOT_1)
    first = get(feeds.url("/feed"))
    feeds.serve("/feed", SNAPSHOT_1)  # the same snapshot again: nothing new
    second = get(feeds.url("/feed"), first.validators)
    assert second.status == 304
    assert second.body is None
    assert second.validators == first.validators
    headers = feeds.requests[1][1]
    assert headers["If-None-Match"] == first.validators.etag
    assert headers["If-Modified-Since"] == first.validators.last_modified


def test_a_changed_feed_gives_the_new_body_and_new_validators(feeds: FeedServer) -> None:
    feeds.serve("/feed", SNAPSHOT_1)
    first = get(feeds.url("/feed"))
    feeds.serve("/feed", SNAPSHOT_2)
    second = get(feeds.url("/feed"), first.validators)
    assert (second.status, second.body) == (200, SNAPSHOT_2)
    assert second.validators.etag not in (None, first.validators.etag)
    assert second.validators.last_modified != first.validators.last_modified


def test_a_server_with_only_last_modified_is_asked_if_modified_since(feeds: FeedServer) -> None:
    feeds.serve("/feed", SNAPSHOT_1, etag=False)
    first = get(feeds.url("/feed"))
    assert first.validators.etag is None and first.validators.last_modified
    unchanged = get(feeds.url("/feed"), first.validators)
    assert unchanged.body is None
    assert feeds.requests[1][1]["If-None-Match"] is None
    assert feeds.requests[1][1]["If-Modified-Since"] == first.validators.last_modified
    feeds.serve("/feed", SNAPSHOT_2, etag=False)
    changed = get(feeds.url("/feed"), unchanged.validators)
    assert changed.body == SNAPSHOT_2


def test_a_server_without_validators_is_read_whole_each_time(feeds: FeedServer) -> None:
    feeds.serve("/feed", SNAPSHOT_1, etag=False, last_modified=False)
    first = get(feeds.url("/feed"))
    assert first.validators == Validators()
    assert get(feeds.url("/feed"), first.validators).body == SNAPSHOT_1


def test_a_gzip_feed_is_decoded(feeds: FeedServer) -> None:
    feeds.serve("/feed", gzip.compress(SNAPSHOT_2), content_encoding="gzip", chunked=True)
    assert get(feeds.url("/feed")).body == SNAPSHOT_2


def test_a_gzip_feed_of_several_members_is_decoded_whole(feeds: FeedServer) -> None:
    feeds.serve("/feed", gzip.compress(b"[1, ") + gzip.compress(b"2]"), content_encoding="gzip")
    assert get(feeds.url("/feed")).body == b"[1, 2]"


def test_a_truncated_gzip_feed_is_an_error(feeds: FeedServer) -> None:
    feeds.serve("/feed", gzip.compress(SNAPSHOT_2 * 50)[:-30], content_encoding="gzip")
    assert failure(feeds.url("/feed")) == "gzip body cut short"


def test_a_corrupt_gzip_feed_is_an_error(feeds: FeedServer) -> None:
    feeds.serve("/feed", b"not gzip at all", content_encoding="gzip")
    assert failure(feeds.url("/feed")).startswith("invalid gzip body: ")


def test_an_encoding_not_asked_for_is_an_error(feeds: FeedServer) -> None:
    feeds.serve("/feed", SNAPSHOT_1, content_encoding="br")
    assert failure(feeds.url("/feed")) == "unsupported Content-Encoding 'br'"


# The byte cap


def test_a_content_length_over_the_cap_is_refused_before_reading(feeds: FeedServer) -> None:
    feeds.serve("/big", b"x" * (CAP + 1))
    assert failure(feeds.url("/big")) == (
        f"response larger than {CAP} bytes (Content-Length {CAP + 1})"
    )


def test_a_body_exactly_at_the_cap_is_read(feeds: FeedServer) -> None:
    feeds.serve("/full", b"x" * CAP, chunked=True)
    assert get(feeds.url("/full")).body == b"x" * CAP


def test_a_chunked_body_over_the_cap_is_cut_off_while_streaming(feeds: FeedServer) -> None:
    feeds.serve("/big", b"x" * (4 * CAP), chunked=True)
    assert failure(feeds.url("/big")) == f"response larger than {CAP} bytes"
    assert feeds.requests[0][0] == "/big"


def test_a_gzip_bomb_is_cut_off_at_the_cap_of_decoded_bytes(feeds: FeedServer) -> None:
    # 100 MB of zeros in about 100 kB of gzip: small on the wire, under any Content-Length cap.
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = bytes(1 << 20)
    bomb = b"".join(packer.compress(zeros) for _ in range(100)) + packer.flush()
    assert len(bomb) < 4 * CAP
    feeds.serve("/bomb", bomb, content_encoding="gzip")
    tracemalloc.start()
    try:
        reason = failure(feeds.url("/bomb"), max_bytes=4 * CAP)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reason == f"response larger than {4 * CAP} bytes"
    # Never more inflated than the cap (and copies of it), where one 64 KiB read of this
    # bomb inflates to 64 MB at once.
    assert peak < 2_000_000


# Failures: one line each, naming the status or the error


def test_a_server_error_names_the_status(feeds: FeedServer) -> None:
    feeds.fail("/feed", 500)
    assert failure(feeds.url("/feed")) == "HTTP 500 Internal Server Error"


def test_a_missing_feed_names_the_status(feeds: FeedServer) -> None:
    assert failure(feeds.url("/nothing-here")) == "HTTP 404 Not Found"


def test_a_refused_connection_names_the_error() -> None:
    reason = failure(f"http://127.0.0.1:{free_port()}/feed")
    assert reason.startswith("ConnectError: ")
    assert "refused" in reason.lower()


def test_an_unresolvable_host_names_the_error() -> None:
    reason = failure("http://feed.example.invalid/outages.json")
    assert reason.startswith("ConnectError: ")


def test_a_server_that_hangs_times_out_at_the_timeout(feeds: FeedServer) -> None:
    feeds.hang("/feed", 10)
    started = time.monotonic()
    reason = failure(feeds.url("/feed"), timeout=0.5)
    elapsed = time.monotonic() - started
    assert reason.startswith("timed out after 0.5 s")
    # Cut off at the deadline, not after the server's 10 s (room for a loaded machine).
    assert 0.45 < elapsed < 5.0


@pytest.mark.parametrize("stage", ["body", "headers"])
def test_a_trickling_server_is_cut_off_at_the_total_deadline(feeds: FeedServer, stage: str) -> None:
    # Each byte comes well inside httpx's per-read timeout; only a total deadline stops this.
    feeds.trickle("/feed", b"x" * 1000, interval=0.05, stage=stage)  # type: ignore[arg-type]
    started = time.monotonic()
    reason = failure(feeds.url("/feed"), timeout=0.6)
    elapsed = time.monotonic() - started
    assert reason == "timed out after 0.6 s"
    assert 0.55 < elapsed < 5.0  # the trickle alone would take 50 s


def test_the_deadline_also_holds_with_the_callers_client(feeds: FeedServer) -> None:
    feeds.serve("/warm", SNAPSHOT_1)
    feeds.trickle("/feed", b"x" * 1000, interval=0.05)
    with httpx.Client() as client:
        get(feeds.url("/warm"), client=client)  # the trickle then reuses a pooled connection
        started = time.monotonic()
        with pytest.raises(FetchError, match="timed out"):
            get(feeds.url("/feed"), client=client, timeout=0.5)
        assert time.monotonic() - started < 5.0  # the trickle alone would take 50 s
        assert get(feeds.url("/warm"), client=client).body == SNAPSHOT_1  # still usable


def test_an_invalid_certificate_names_the_tls_error() -> None:
    with _self_signed_tls_server() as port:
        reason = failure(f"https://127.0.0.1:{port}/feed")
    assert reason.startswith("ConnectError: ")
    assert "CERTIFICATE_VERIFY_FAILED" in reason


# Redirects


def test_redirects_are_followed_with_the_conditional_headers(feeds: FeedServer) -> None:
    feeds.serve("/v2/feed", SNAPSHOT_1)
    feeds.redirect("/feed", "/v2/feed", status=301)
    first = get(feeds.url("/feed"))
    assert first.body == SNAPSHOT_1
    second = get(feeds.url("/feed"), first.validators)
    assert second.body is None
    assert feeds.requests[-1] == ("/v2/feed", feeds.requests[-1][1])
    assert feeds.requests[-1][1]["If-None-Match"] == first.validators.etag


def test_more_than_five_redirects_are_refused(feeds: FeedServer) -> None:
    for hop in range(6):
        feeds.redirect(f"/hop{hop}", f"/hop{hop + 1}")
    feeds.serve("/hop6", SNAPSHOT_1)
    assert get(feeds.url("/hop1")).body == SNAPSHOT_1  # five redirects: fine
    assert failure(feeds.url("/hop0")) == "more than 5 redirects"


# file:// and other schemes


def test_a_file_url_is_read_and_unchanged_gives_no_body(tmp_path: Path) -> None:
    feed = tmp_path / "storm.json"
    feed.write_bytes(SNAPSHOT_1)
    first = get(feed.as_uri())
    assert (first.status, first.body) == (200, SNAPSHOT_1)
    assert first.validators.last_modified and first.validators.last_modified.endswith("GMT")
    unchanged = get(feed.as_uri(), first.validators)
    assert (unchanged.status, unchanged.body) == (304, None)
    assert unchanged.validators == first.validators


def test_a_file_rewritten_within_the_same_second_is_seen_as_changed(tmp_path: Path) -> None:
    feed = tmp_path / "storm.json"
    feed.write_bytes(SNAPSHOT_1)
    first = get(feed.as_uri())
    feed.write_bytes(SNAPSHOT_2)
    stat = feed.stat()
    os.utime(feed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))  # same second, new mtime
    assert get(feed.as_uri(), first.validators).body == SNAPSHOT_2


def test_a_file_over_the_cap_is_refused(tmp_path: Path) -> None:
    feed = tmp_path / "huge.json"
    feed.write_bytes(b"x" * (CAP + 1))
    assert failure(feed.as_uri()) == f"file larger than {CAP} bytes ({CAP + 1})"


def test_a_missing_file_names_the_error(tmp_path: Path) -> None:
    reason = failure((tmp_path / "gone.json").as_uri())
    assert reason.startswith("FileNotFoundError: ")


@pytest.mark.parametrize(
    "url", ["ftp://example.com/feed.json", "gopher://example.com/", "/srv/feed.json"]
)
def test_other_schemes_are_refused_at_once(url: str) -> None:
    assert failure(url).startswith("unsupported URL scheme")


@pytest.mark.parametrize("url", ["http://[::1/feed", "http://exa\x00mple.com/feed"])
def test_a_malformed_url_is_refused(url: str) -> None:
    assert failure(url).startswith("invalid URL: ")


def test_a_file_url_naming_a_host_is_refused() -> None:
    assert failure("file://server/share/feed.json").startswith("file URL names a host")


# A TLS server whose certificate no one trusts


class _self_signed_tls_server:
    """Accepts TLS connections with a fresh self-signed certificate for 127.0.0.1."""

    def __enter__(self) -> int:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256())
        )
        self._dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"tls-{os.getpid()}-{id(self)}"
        self._dir.mkdir()
        (self._dir / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (self._dir / "key.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self._dir / "cert.pem", self._dir / "key.pem")
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(5)
        threading.Thread(target=self._accept, args=(context,), daemon=True).start()
        return int(self._listener.getsockname()[1])

    def _accept(self, context: ssl.SSLContext) -> None:
        try:
            conn, _ = self._listener.accept()
            with context.wrap_socket(conn, server_side=True):
                pass
        except (OSError, ssl.SSLError):
            pass  # the client rejects the certificate mid-handshake: expected

    def __exit__(self, *_: object) -> None:
        self._listener.close()
        for file in self._dir.iterdir():
            file.unlink()
        self._dir.rmdir()
