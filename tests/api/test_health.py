"""/healthz on a live server: it answers while every worker thread is busy checking an area;
/readyz tells who runs the clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from outage_notify.matching.geometry import AreaError
from outage_notify.runtime import Runtime
from outage_notify.scheduler import lease
from outage_notify.scheduler.background import LEASE
from outage_notify.scheduler.jobs import JOBS, JobContext, run_job
from outage_notify.timeutil import utcnow
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


def test_readyz_tells_who_holds_the_clock_and_how_the_jobs_last_went(
    client: TestClient, runtime: Runtime
) -> None:
    first = client.get("/readyz").json()
    assert first["clock"] == {"scheduler": "disabled", "lease": "nobody", "jobs": {}}
    assert runtime.scheduler.keep_lease()
    ctx = JobContext(runtime.sessions, runtime.settings, runtime.clock, "test")
    assert run_job(JOBS["retention"], ctx).ok
    answer = client.get("/readyz")
    assert answer.status_code == 200
    clock = answer.json()["clock"]
    assert clock["lease"] == "this process"
    assert clock["jobs"]["retention"]["runs"] == 1 and clock["jobs"]["retention"]["ok"] is True
    runtime.scheduler.stop()  # gives the lease up
    with runtime.transaction() as session:
        lease.acquire(
            session, name=LEASE, owner="elsewhere", now=utcnow(), ttl=timedelta(seconds=60)
        )
    assert client.get("/readyz").json()["clock"]["lease"] == "another process"
