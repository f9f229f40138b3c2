"""Hostile weather warnings (issue 11): how long reading each one takes before it is refused or
repaired with a reason. The target is under a second each, so that a poisoned feed never holds
up the rest of it. What is timed is parse_cap, the whole pure reading of one document
(defusedxml, then lxml and the CAP schema, then the areas), the median of the runs."""

from __future__ import annotations

from collections.abc import Callable

from bench.common import median_time, say
from bench.report import Section, ms
from outage_notify.ingest.cap import CapError, parse_cap

TARGET_SECONDS = 1.0
MAX_BYTES = 10 * 2**20  # FEED_MAX_BYTES's default


def _alert(area: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
<identifier>bench-1</identifier><sender>bench@example.org</sender>
<sent>2026-11-25T20:00:00+02:00</sent><status>Actual</status><msgType>Alert</msgType>
<scope>Public</scope><info><category>Met</category><event>Wind</event>
<urgency>Expected</urgency><severity>Severe</severity><certainty>Likely</certainty>
<area><areaDesc>bench</areaDesc>{area}</area></info></alert>""".encode()


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10 if n > 1 else "&lol;" * 10}">'.encode()
        for n in range(1, 10)
    )
    + b']><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol9;</identifier>'
    b"</alert>"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&xxe;</identifier></alert>'
)
BOW_TIE = "<polygon>60.0,25.0 60.1,25.1 60.0,25.1 60.1,25.0 60.0,25.0</polygon>"


def zig_zag(vertices: int) -> str:
    """A storm outline whose closing edge crosses every other tooth: each tooth a lobe."""
    points = " ".join(
        f"{60.0 + 0.01 * (i % 2):.3f},{25.0 + i * 0.00005:.5f}" for i in range(vertices)
    )
    return f"<polygon>{points} 60.000,25.00000</polygon>"


CASES: dict[str, Callable[[], bytes]] = {
    "billion laughs": lambda: BILLION_LAUGHS,
    "external entity": lambda: EXTERNAL_ENTITY,
    "20 MB document": lambda: b" " * (20 * 2**20),
    "100,000-deep nesting": lambda: b"<a>" * 100_000 + b"</a>" * 100_000,
    "truncated XML": lambda: _alert(BOW_TIE)[:-40],
    "bow-tie polygon": lambda: _alert(BOW_TIE),
    "unclosed polygon": lambda: _alert("<polygon>60.0,25.0 60.1,25.0 60.1,25.1</polygon>"),
    "swapped lat/lon": lambda: _alert("<polygon>25.0,60.0 25.1,60.0 25.1,60.1 25.0,60.0</polygon>"),
    "zero-radius circle": lambda: _alert("<circle>60.2,24.9 0</circle>"),
    "5,000-vertex zig-zag (repaired)": lambda: _alert(zig_zag(4_998)),
    "20,000-vertex zig-zag": lambda: _alert(zig_zag(20_000)),
}


def run(repeats: int) -> Section:
    section = Section("11. Hostile weather warnings: read, then refused or repaired")
    for name, make in CASES.items():
        say(f"cap: {name}")
        timed = median_time(_outcome, repeats, setup=make)
        section.add(name, "read", ms(timed.median), "ms", timed.result)
        section.add(name, "under 1 s", timed.median < TARGET_SECONDS)
    section.notes += [
        "read = parse_cap of the one document (the poll records each outcome in the ingest log "
        "and goes on with the rest of the feed); the outcome is the reason given, shortened.",
        "An invalid polygon is repaired up to MAX_REPAIR_VERTICES (5,000) and dropped with a "
        "note beyond. A swapped lat/lon within range reads as a polygon elsewhere: it reaches "
        "no customer of ours, so no incident is made of it.",
    ]
    return section


def _outcome(document: bytes) -> str:
    try:
        alerts = parse_cap(document, max_bytes=MAX_BYTES)
    except CapError as exc:
        return f"refused: {str(exc)[:60]}"
    notes = [note for alert in alerts for note in alert.notes]
    areas = [area for alert in alerts for info in alert.infos for area in info.areas]
    polygons = sum(len(area.polygons) for area in areas)
    shown = f"; {notes[0][:60]}" if notes else ""
    return f"read: {polygons} polygon(s), {len(notes)} note(s){shown}"
