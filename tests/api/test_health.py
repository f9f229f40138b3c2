"""/healthz on a live server: it answers while every worker thread is busy checking an area."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from outage_notify.matching.geometry import AreaError
from outage_notify.runtime import Runtime
from tests.conftest import LiveServer
from tests.town import cells

# AnyIO's default number of worker threads, which every plain `def` endpoint of Starlette shares.
WORKER_THREADS = 40


class SlowAreas:
    """Stands in for parse_area: each call waits until released, as a huge area would."""

    def __init__(self) -> None:
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()

    def __call__(self, *_: Any, **__: Any) -> Any:
        self.entered.release()
        self.release.wait(60)
        raise AreaError("checked slowly")


@pytest.fixture
def slow_areas(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlowAreas]:
    slow = SlowAreas()
    monkeypatch.setattr("outage_notify.ingest.operator_api.parse_area", slow)
    yield slow
    slow.release.set()


def post_area(url: str, headers: dict[str, str], number: int) -> int:
    body = {"external_id": f"SLOW-{number}", "area": cells(0, 0, 1, 1)}
    return httpx.post(f"{url}/api/v1/incidents", json=body, headers=headers, timeout=90).status_code


def test_healthz_answers_while_every_worker_thread_is_checking_an_area(
    runtime: Runtime, keys: dict, live_port: int, slow_areas: SlowAreas
) -> None:
    server = LiveServer(runtime, live_port).start()
    try:
        with ThreadPoolExecutor(WORKER_THREADS) as pool:
            posts: list[Future[int]] = [
                pool.submit(post_area, server.url, keys["operator"], n)
                for n in range(WORKER_THREADS)
            ]
            for _ in range(WORKER_THREADS):
                assert slow_areas.entered.acquire(timeout=30), "the slow checks did not start"
            answer = httpx.get(f"{server.url}/healthz", timeout=10)
            unfinished = sum(not post.done() for post in posts)
            slow_areas.release.set()
            statuses = [post.result(timeout=90) for post in posts]
    finally:
        slow_areas.release.set()
        server.stop()
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    assert unfinished == WORKER_THREADS  # it answered while every check was still running
    assert statuses == [422] * WORKER_THREADS
