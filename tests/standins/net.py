"""Small helpers for local servers in tests."""

from __future__ import annotations

import socket
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition, timeout: float = 10.0, interval: float = 0.02):  # type: ignore[no-untyped-def]
    """Polls until condition() is truthy; returns its value or raises TimeoutError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout} s")


def wait_http(url: str, timeout: float = 10.0) -> None:
    def up() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return True
        except OSError:
            return False

    wait_for(up, timeout)
