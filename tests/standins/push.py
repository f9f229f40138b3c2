"""A local push service: receives Web Push requests, checks the VAPID signature and decrypts
the payload (RFC 8291, aes128gcm) with the subscriber's own keys, as a browser would."""

from __future__ import annotations

import base64
import json
import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64u(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64u_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Subscriber:
    """A browser's side of a subscription: its key pair and auth secret."""

    name: str
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth_secret: bytes = field(default_factory=lambda: os.urandom(16))

    def keys(self) -> dict[str, str]:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"p256dh": b64u(public), "auth": b64u(self.auth_secret)}


@dataclass
class PushService:
    vapid_public_key: str | None = None  # base64url uncompressed point, to verify the JWT
    subscribers: dict[str, Subscriber] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)  # names answered 410
    answers: dict[str, int] = field(default_factory=dict)  # name → status to answer instead
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def endpoint(self, name: str) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/push/{name}"

    def subscribe(self, name: str) -> dict[str, Any]:
        """What PushSubscription.toJSON() gives the app: endpoint and keys."""
        subscriber = self.subscribers.setdefault(name, Subscriber(name))
        return {"endpoint": self.endpoint(name), "keys": subscriber.keys()}

    def start(self) -> PushService:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                status = service.handle(self.path, self.headers, self.rfile.read(length))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def handle(self, path: str, headers: Any, body: bytes) -> int:
        """headers: case-insensitive, as http.server gives them."""
        name = path.rsplit("/", 1)[-1]
        subscriber = self.subscribers.get(name)
        if subscriber is None or name in self.gone:
            return 410
        if name in self.answers:
            return self.answers[name]
        if headers.get("Content-Encoding") != "aes128gcm":
            return 400
        claims = self._verify_vapid(headers.get("Authorization", ""))
        if claims is None:
            return 401
        plain = http_ece.decrypt(
            body,
            private_key=subscriber.private_key,
            auth_secret=subscriber.auth_secret,
            version="aes128gcm",
        )
        with self.lock:
            self.received.append(
                {
                    "name": name,
                    "payload": json.loads(plain),
                    "ttl": headers.get("TTL"),
                    "claims": claims,
                }
            )
        return 201

    def _verify_vapid(self, authorization: str) -> dict[str, Any] | None:
        # RFC 8292: "vapid t=<JWT>, k=<public key>"
        if not authorization.startswith("vapid "):
            return None
        parts = dict(p.strip().split("=", 1) for p in authorization[6:].split(","))
        key_b64 = parts.get("k", "")
        if self.vapid_public_key and key_b64 != self.vapid_public_key:
            return None
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64u_decode(key_b64))
        try:
            claims: dict[str, Any] = jwt.decode(
                parts.get("t", ""), public, algorithms=["ES256"], options={"verify_aud": False}
            )
        except jwt.PyJWTError:
            return None
        return claims
