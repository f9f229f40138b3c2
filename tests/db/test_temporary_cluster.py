"""The throwaway PostgreSQL cluster the PostgreSQL run (and bench/) starts for itself."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.postgres import TemporaryCluster

pytestmark = pytest.mark.postgresql_only(reason="starts a cluster of its own from the binaries")


def test_a_cluster_serves_postgis_fast_and_leaves_nothing_behind() -> None:
    with TemporaryCluster(max_connections=50) as cluster:
        directory = cluster.directory
        assert directory is not None and str(directory).startswith("/tmp/")
        engine = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("CREATE EXTENSION postgis"))
            assert conn.scalar(text("SELECT ST_AsText(ST_MakePoint(24.9, 60.2))")) == (
                "POINT(24.9 60.2)"
            )
            assert conn.scalar(text("SHOW fsync")) == "off"
            assert conn.scalar(text("SHOW max_connections")) == "50"
            assert conn.scalar(text("SHOW listen_addresses")) == "127.0.0.1"
        engine.dispose()
        server = int((cluster.data / "postmaster.pid").read_text().split()[0])
    assert not directory.exists()
    # pg_ctl returns once the pid file is gone; the process itself ends a moment later.
    deadline = time.monotonic() + 10
    while _alive(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(server)
    cluster.stop()  # a second stop is harmless


def _alive(pid: int) -> bool:
    """Running, not merely a zombie that its parent has yet to reap."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
