"""The geocode table (outage_notify.matching.geocodes): CAP (valueName, value) pairs → areas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import box

from outage_notify.ingest.cap import parse_cap
from outage_notify.ingest.cap_sources import read_source
from outage_notify.matching.geocodes import GeocodeTable, GeocodeTableError, Pair

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "fixtures" / "geocodes" / "porvoo_region.geojson"
CAP_DATA = ROOT / "tests" / "data" / "cap"
PORVOO = (25.55, 60.33, 25.80, 60.45)
SIPOO = (25.05, 60.20, 25.45, 60.45)
ITA_UUSIMAA = (25.40, 60.20, 26.60, 60.75)


@pytest.fixture(scope="module")
def demo() -> GeocodeTable:
    return GeocodeTable.load(FIXTURE)


def feature(codes: Any, geometry: Any = None) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"geocodes": codes},
        "geometry": geometry or geojson(box(0, 0, 1, 1)),
    }


def geojson(geometry: Any) -> dict[str, Any]:
    """Shapely's __geo_interface__ as GeoJSON text would give it: lists, not tuples."""
    result: dict[str, Any] = json.loads(json.dumps(geometry.__geo_interface__))
    return result


def table(*features: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def test_the_demo_table_resolves_a_municipality_by_either_of_its_codes(
    demo: GeocodeTable,
) -> None:
    for pair in [("kuntanumero", "638"), ("FI-kuntanumero", "638"), ("KUNTANUMERO", " 638 ")]:
        area, unknown = demo.resolve([pair])
        assert area is not None and area.bounds == PORVOO
        assert unknown == ()
    assert len(demo) == 5  # two codes each for Porvoo and Sipoo, one for Itä-Uusimaa
    assert ("EMMA_ID", "FI001") in demo
    assert ("EMMA_ID", "fi001") not in demo  # values are case-significant


def test_resolve_unions_the_areas_named(demo: GeocodeTable) -> None:
    area, unknown = demo.resolve([("kuntanumero", "638"), ("kuntanumero", "753")])
    assert unknown == ()
    assert area is not None and area.geom_type == "MultiPolygon"  # two boxes apart
    assert area.area == pytest.approx(box(*PORVOO).area + box(*SIPOO).area)
    # Porvoo lies inside Itä-Uusimaa: the union is Itä-Uusimaa alone
    area, _ = demo.resolve([("EMMA_ID", "FI001"), ("kuntanumero", "638")])
    assert area is not None and area.equals(box(*ITA_UUSIMAA))


def test_unknown_codes_are_listed_once_as_given(demo: GeocodeTable) -> None:
    pairs = [("UGC", "AKZ318"), ("kuntanumero", "638"), ("UGC", "AKZ318"), ("SAME", "002230")]
    area, unknown = demo.resolve(pairs)
    assert area is not None and area.bounds == PORVOO
    assert unknown == (("UGC", "AKZ318"), ("SAME", "002230"))
    assert demo.resolve([("UGC", "AKZ318")]) == (None, (("UGC", "AKZ318"),))
    assert demo.resolve([]) == (None, ())


def test_the_fmi_sample_resolves_to_its_municipalities_but_not_the_whole_region(
    demo: GeocodeTable,
) -> None:
    # The hand-written FMI warning names Porvoo and Sipoo by municipality number, and Uusimaa
    # (ISO 3166-2 FI-18) beside each, which the demo table leaves out on purpose.
    (alert,) = parse_cap((CAP_DATA / "fmi" / "fmi_wind_alert.cap.xml").read_bytes())
    porvoo, sipoo = alert.infos[0].areas
    area, unknown = demo.resolve(porvoo.geocodes)
    assert area is not None and area.bounds == PORVOO
    assert unknown == (("ISO 3166-2", "FI-18"),)
    area, _ = demo.resolve(sipoo.geocodes)
    assert area is not None and area.bounds == SIPOO


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"type": "Feature"}, "not a GeoJSON FeatureCollection"),
        ({"type": "FeatureCollection"}, "has no list of features"),
        (table(feature([{"valueName": "a", "value": "1"}]), "x"), "feature 1: not a GeoJSON"),
        (table(feature([])), "feature 0: properties.geocodes must be a non-empty list"),
        (table({"type": "Feature", "geometry": None}), "feature 0: properties.geocodes"),
        (table(feature([{"valueName": "a"}])), r"feature 0: geocodes\[0\] needs"),
        (table(feature([{"valueName": "a", "value": 638}])), r"feature 0: geocodes\[0\] needs"),
        (table(feature(["a=1"])), r"feature 0: geocodes\[0\] needs"),
        (
            table(
                feature(
                    [{"valueName": "a", "value": "1"}], {"type": "Point", "coordinates": [0, 0]}
                )
            ),
            "feature 0: geometry must be a Polygon or MultiPolygon",
        ),
        (
            table(
                feature([{"valueName": "a", "value": "1"}]),
                feature(
                    [{"valueName": "b", "value": "2"}],
                    {"type": "Polygon", "coordinates": [[[0, 0], [200, 0], [0, 1], [0, 0]]]},
                ),
            ),
            "feature 1: area coordinates out of range",
        ),
        (
            table(
                feature([{"valueName": "UGC", "value": "X1"}]),
                feature([{"valueName": "ugc", "value": "X1"}]),
            ),
            "feature 1: geocode ugc=X1 is already feature 0's",
        ),
    ],
)
def test_a_bad_table_is_refused_naming_the_feature(document: Any, message: str) -> None:
    with pytest.raises(GeocodeTableError, match=message):
        GeocodeTable.from_geojson(document)


def test_a_table_file_that_cannot_be_read_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GeocodeTableError, match="cannot be read"):
        GeocodeTable.load(tmp_path / "missing.geojson")
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [')
    with pytest.raises(GeocodeTableError, match=r"broken\.geojson: not JSON"):
        GeocodeTable.load(broken)
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps(table(feature([]))))
    with pytest.raises(GeocodeTableError, match=r"bad\.geojson: feature 0: properties.geocodes"):
        GeocodeTable.load(bad)


# ---- every geocode in the real test documents ---------------------------------------------------


def areas_in_test_documents() -> list[tuple[str, tuple[Pair, ...]]]:
    """(document, area's geocodes) for every area with geocodes in tests/data/cap/."""
    found = []
    for path in sorted(CAP_DATA.rglob("*.xml")):
        if path.parent.name == "feeds":
            continue  # indexes and a copy of fmi/
        for alert in parse_cap(path.read_bytes()):
            for info in alert.infos:
                found.extend((path.name, area.geocodes) for area in info.areas if area.geocodes)
    for path in sorted(CAP_DATA.rglob("*.geojson")):
        source = read_source(path.read_bytes(), content_type=None, base_url="https://x/")
        for alert in source.alerts:
            found.extend((path.name, area.geocodes) for area in alert.infos[0].areas)
    return found


def test_every_geocode_of_the_real_documents_resolves_against_a_table_holding_it(
    tmp_path: Path,
) -> None:
    areas = areas_in_test_documents()
    distinct = sorted({pair for _, pairs in areas for pair in pairs})
    # By reading the files: the ABQ weather.cap alone holds 50 geocodes; NAAD, NWS ones, FMI.
    assert len(distinct) > 60
    # A table written as a file: one 0.5° box per distinct code, side by side, none touching.
    features = [
        feature(
            [{"valueName": name, "value": value}],
            geojson(box(-170 + i % 300, -60 + i // 300, -169.5 + i % 300, -59.5 + i // 300)),
        )
        for i, (name, value) in enumerate(distinct)
    ]
    path = tmp_path / "every_code.geojson"
    path.write_text(json.dumps(table(*features)))
    codes = GeocodeTable.load(path)
    assert len(codes) == len(distinct)

    for document, pairs in areas:
        area, unknown = codes.resolve(pairs)
        assert unknown == (), document
        assert area is not None
        assert area.area == pytest.approx(0.25 * len(set(pairs))), document

    # One code gone from the table: the areas naming it list it as unknown.
    missing = distinct[0]
    fewer = GeocodeTable.from_geojson(table(*features[1:]))
    for _, pairs in areas:
        _, unknown = fewer.resolve(pairs)
        assert unknown == ((missing,) if missing in pairs else ())
