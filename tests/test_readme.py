"""The README's walkthrough, run as a newcomer runs it: every bash block of its "Walkthrough"
section, in order, in one shell, against a live `outage-notify serve` set up as `make run`
sets it up (migrated database, demo loaded). A block fails if any command fails (curl fails
on any HTTP error here) or if a line of its shown output (`# …`) is not in what it printed.
So the README cannot rot again."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from outage_notify import paths
from tests.standins.net import free_port, wait_http

README = paths.HOME / "README.md"
BLOCK = re.compile(r"```bash\n(.*?)```", re.S)
DOCUMENTED_PORT = "127.0.0.1:8000"
MARK = "@@block"


@dataclass(frozen=True)
class Block:
    script: str
    expected: list[str]  # the lines shown as its output


def walkthrough_blocks(markdown: str) -> list[Block]:
    section = markdown.split("\n## Walkthrough", 1)[1].split("\n## ", 1)[0]
    blocks = []
    for body in BLOCK.findall(section):
        lines = body.splitlines()
        expected = [line[2:] for line in lines if line.startswith("# ")]
        script = "\n".join(line for line in lines if not line.startswith("# "))
        blocks.append(Block(script, expected))
    return blocks


def test_the_walkthrough_has_blocks_with_shown_output() -> None:
    blocks = walkthrough_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 8
    assert sum(len(b.expected) for b in blocks) >= 5


@pytest.fixture
def service(empty_database_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """As `make run`: migrate, load the demo, serve (here on a free port, its own database)."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OUTAGE_NOTIFY_")},
        "OUTAGE_NOTIFY_DATABASE_URL": empty_database_url,
        # Where SQLite keeps it anyway (beside tmp_path/outage_notify.db); on PostgreSQL it
        # would otherwise go to the working directory, the checkout.
        "OUTAGE_NOTIFY_SECRET_KEY_FILE": str(tmp_path / "outage_notify.key"),
        "OUTAGE_NOTIFY_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    cli = [sys.executable, "-m", "outage_notify"]
    for args in (["db", "upgrade"], ["demo"]):
        done = subprocess.run([*cli, *args], env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
        yield {**env, "PORT": str(port)}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
        log.close()


def test_every_walkthrough_command_works_when_pasted_in_order(service: dict[str, str]) -> None:
    blocks = walkthrough_blocks(README.read_text(encoding="utf-8"))
    venv_bin = str(Path(sys.executable).parent) + "/"
    prelude = [
        "set -euo pipefail",
        # As pasted, but an HTTP error must fail the block, not scroll past.
        'curl() { command curl --fail-with-body "$@"; }',
    ]
    parts = [*prelude]
    for number, block in enumerate(blocks):
        script = block.script.replace(DOCUMENTED_PORT, f"127.0.0.1:{service['PORT']}")
        # A newline first: the previous block's output may not end with one (curl's JSON).
        parts += [f"echo; echo '{MARK} {number}'", script.replace(".venv/bin/", venv_bin)]
    run = subprocess.run(
        ["bash", "-c", "\n".join(parts)],
        cwd=paths.HOME,
        env=service,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    outputs = re.split(rf"^{MARK} (\d+)$", run.stdout, flags=re.M)
    printed = {int(n): text for n, text in zip(outputs[1::2], outputs[2::2], strict=True)}
    assert run.returncode == 0, (
        f"walkthrough block {max(printed, default=0)} failed:\n{run.stdout[-3000:]}\n"
        f"{run.stderr[-3000:]}"
    )
    assert len(printed) == len(blocks)
    for number, block in enumerate(blocks):
        got = [line.strip() for line in printed[number].splitlines()]
        for line in block.expected:
            assert line.strip() in got, (
                f"block {number} should print {line!r}; it printed:\n{printed[number]}"
            )
