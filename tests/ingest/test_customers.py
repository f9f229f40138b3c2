"""Customer import: CSV / GeoJSON / JSON in, clean records and reasoned rejections out.
A bad row never stops the good ones; only a file that cannot be read at all is refused whole."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outage_notify.ingest.customers import (
    CustomerRules,
    FileFormatError,
    ParsedCustomers,
    normalise_phone,
    parse_csv,
    parse_file,
    parse_geojson,
    parse_json_list,
    validate_customer,
)
from outage_notify.ingest.records import CustomerRecord, RecordError

RULES = CustomerRules()
HEADER = "customer_id,name,phone,email,language,lat,lon,channels,feeder,transformer,quiet_hours"
MAIJA = (
    "C1,Maija Mäki,040 123 4567,maija@example.fi,fi,60.1699,24.9384,sms,F-102,T-5531,22:00-07:00"
)


def csv_file(*rows: str, header: str = HEADER, sep: str = ",", bom: bool = False) -> bytes:
    lines = [header.replace(",", sep), *rows]
    text = "\n".join(lines) + "\n"
    return (("\ufeff" if bom else "") + text).encode("utf-8")


def parse(data: bytes | str, rules: CustomerRules = RULES) -> ParsedCustomers:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return parse_file(raw, "customers", rules)


def only_record(parsed: ParsedCustomers) -> CustomerRecord:
    assert parsed.rejections == []
    assert len(parsed.records) == 1
    return parsed.records[0][1]


def good(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"customer_id": "C1", "lat": 60.17, "lon": 24.94}
    base.update(fields)
    return base


def reject_reason(raw: dict[str, Any], rules: CustomerRules = RULES) -> str:
    with pytest.raises(RecordError) as info:
        validate_customer(raw, rules)
    assert str(info.value)
    return str(info.value)


MAIJA_RECORD = CustomerRecord(
    customer_id="C1",
    name="Maija Mäki",
    address=None,
    phone="+358401234567",
    email="maija@example.fi",
    language="fi",
    lat=60.1699,
    lon=24.9384,
    channels="sms",
    feeder="F-102",
    transformer="T-5531",
    quiet_hours="22:00-07:00",
)


# ---- valid CSV ----------------------------------------------------------------------------------


def test_comma_separated_csv() -> None:
    assert only_record(parse(csv_file(MAIJA))) == MAIJA_RECORD


def test_semicolon_separated_csv_with_decimal_commas() -> None:
    row = "C1;Maija Mäki;040 123 4567;maija@example.fi;fi;60,1699;24,9384;sms;F-102;T-5531;22:00-07:00"
    assert only_record(parse(csv_file(row, sep=";"))) == MAIJA_RECORD


def test_semicolon_csv_with_quoted_channel_list() -> None:
    header = "customer_id;phone;email;lat;lon;channels"
    row = 'C1;040 123 4567;maija@example.fi;60,17;24,94;"email;sms"'
    record = only_record(parse(csv_file(row, header=header)))
    assert record.channels == "sms;email"
    assert (record.lat, record.lon) == (60.17, 24.94)


def test_tab_separated_csv() -> None:
    row = MAIJA.replace(",", "\t")
    assert only_record(parse(csv_file(row, sep="\t"))) == MAIJA_RECORD


def test_utf8_with_bom() -> None:
    parsed = parse(csv_file(MAIJA, bom=True))
    assert only_record(parsed) == MAIJA_RECORD


def test_header_case_spaces_order_and_extra_columns_do_not_matter() -> None:
    header = " LON , Lat ,Customer_ID,Address,Segment"
    record = only_record(parse(csv_file("24.94,60.17,C9,Kotikatu 1,residential", header=header)))
    assert (record.customer_id, record.lat, record.lon) == ("C9", 60.17, 24.94)
    assert record.address == "Kotikatu 1"


def test_minimal_row_takes_defaults() -> None:
    record = only_record(parse(csv_file("C1,,,,,60.17,24.94,,,,")))
    assert record == CustomerRecord(
        customer_id="C1",
        name=None,
        address=None,
        phone=None,
        email=None,
        language="fi",
        lat=60.17,
        lon=24.94,
        channels=None,
        feeder=None,
        transformer=None,
        quiet_hours=None,
    )


def test_default_language_comes_from_the_rules() -> None:
    record = only_record(parse(csv_file("C1,,,,,60.17,24.94,,,,"), CustomerRules("sv", "FI")))
    assert record.language == "sv"


def test_quoted_cells_with_separator_and_newline() -> None:
    row = 'C1,"Mäki, Maija ""Mamma""",,,,60.17,24.94,,,,'
    record = only_record(parse(csv_file(row)))
    assert record.name == 'Mäki, Maija "Mamma"'


def test_crlf_line_endings() -> None:
    data = (HEADER + "\r\n" + MAIJA + "\r\n").encode()
    assert only_record(parse(data)) == MAIJA_RECORD


def test_header_only_file_has_nothing_to_import() -> None:
    parsed = parse(csv_file())
    assert parsed.records == [] and parsed.rejections == []


# ---- valid GeoJSON and JSON ---------------------------------------------------------------------


def point_feature(lon: float, lat: float, **properties: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": properties,
    }


def feature_collection(*features: Any, **extra: Any) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features), **extra})


def test_geojson_points() -> None:
    properties = {
        "customer_id": "C1",
        "name": "Maija Mäki",
        "phone": "040 123 4567",
        "email": "maija@example.fi",
        "language": "fi",
        "channels": "sms",
        "feeder": "F-102",
        "transformer": "T-5531",
        "quiet_hours": "22:00-07:00",
    }
    parsed = parse(feature_collection(point_feature(24.9384, 60.1699, **properties)))
    assert only_record(parsed) == MAIJA_RECORD


def test_geojson_feature_id_is_the_customer_id() -> None:
    feature = point_feature(24.94, 60.17) | {"id": 12345}
    assert only_record(parse(feature_collection(feature))).customer_id == "12345"


def test_geojson_is_lon_lat() -> None:
    record = only_record(parse(feature_collection(point_feature(24.94, 60.17, customer_id="C"))))
    assert (record.lon, record.lat) == (24.94, 60.17)


@pytest.mark.parametrize("name", ["EPSG:3067", "urn:ogc:def:crs:EPSG::3067"])
def test_geojson_in_epsg_3067_is_transformed(name: str) -> None:
    crs = {"type": "name", "properties": {"name": name}}
    document = feature_collection(point_feature(385800, 6672400, customer_id="C1"), crs=crs)
    record = only_record(parse(document))
    assert record.lon == pytest.approx(24.94, abs=0.01)
    assert record.lat == pytest.approx(60.17, abs=0.01)


@pytest.mark.parametrize("name", ["EPSG:4326", "urn:ogc:def:crs:OGC:1.3:CRS84"])
def test_geojson_in_wgs84_crs_is_left_alone(name: str) -> None:
    crs = {"type": "name", "properties": {"name": name}}
    document = feature_collection(point_feature(24.94, 60.17, customer_id="C1"), crs=crs)
    record = only_record(parse(document))
    assert (record.lon, record.lat) == (24.94, 60.17)


def test_geojson_feature_without_geometry_may_carry_lat_lon() -> None:
    feature = {"type": "Feature", "geometry": None, "properties": good()}
    assert only_record(parse(feature_collection(feature))).lat == 60.17


def test_json_list() -> None:
    items = [good(customer_id="A"), good(customer_id="B", lat="60,5", lon="25.5")]
    parsed = parse(json.dumps(items))
    assert parsed.rejections == []
    assert [(i, r.customer_id, r.lat, r.lon) for i, r in parsed.records] == [
        (0, "A", 60.17, 24.94),
        (1, "B", 60.5, 25.5),
    ]


def test_json_list_accepts_channels_as_a_list_and_numbers_as_ids() -> None:
    raw = good(customer_id=77, channels=["Email", "push"], email="a@example.fi")
    record = only_record(parse_json_list([raw], RULES))
    assert record.customer_id == "77"
    assert record.channels == "email;push"


def test_leading_whitespace_before_json_is_still_json() -> None:
    assert only_record(parse("\n  " + json.dumps([good()]))).customer_id == "C1"


# ---- normalisation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("040 123 4567", "+358401234567"),
        ("040-1234567", "+358401234567"),
        ("(040) 123 4567", "+358401234567"),
        ("+358 40 123 4567", "+358401234567"),
        ("00358401234567", "+358401234567"),
        ("09 1234 567", "+35891234567"),
        ("+46 70 123 45 67", "+46701234567"),
    ],
)
def test_phone_is_normalised_to_e164_reading_national_numbers_in_finland(
    phone: str, expected: str
) -> None:
    assert normalise_phone(phone, "FI") == expected
    assert validate_customer(good(phone=phone), RULES).phone == expected


def test_national_numbers_are_read_in_the_configured_region() -> None:
    sweden = CustomerRules(default_language="sv", default_region="SE")
    assert validate_customer(good(phone="070-123 45 67"), sweden).phone == "+46701234567"
    # the same digits read in Finland are a Finnish number
    assert validate_customer(good(phone="070-123 45 67"), RULES).phone == "+358701234567"
    # a number with its country code is the same whatever the region
    assert validate_customer(good(phone="+358 40 123 4567"), sweden).phone == "+358401234567"


@pytest.mark.parametrize(
    ("language", "expected"),
    [("fi-FI", "fi"), ("SV", "sv"), ("en_GB", "en"), ("sv-FI", "sv"), (" en ", "en"), ("", "fi")],
)
def test_language_is_normalised(language: str, expected: str) -> None:
    assert validate_customer(good(language=language), RULES).language == expected


def test_email_is_normalised() -> None:
    record = validate_customer(good(email=" Maija@Example.FI "), RULES)
    assert record.email == "Maija@example.fi"


@pytest.mark.parametrize(
    ("channels", "expected"),
    [
        ("sms;email;push", "sms;email;push"),
        ("push;SMS", "sms;push"),
        ("email,sms", "sms;email"),
        (" sms ; ; ", "sms"),
        ("", None),
        (";", None),
    ],
)
def test_channels_are_normalised(channels: str, expected: str | None) -> None:
    raw = good(channels=channels, phone="0401234567", email="a@example.fi")
    assert validate_customer(raw, RULES).channels == expected


@pytest.mark.parametrize(
    ("quiet", "expected"),
    [
        ("22:00-07:00", "22:00-07:00"),
        (" 21:30 - 06:15 ", "21:30-06:15"),
        ("08:00-16:00", "08:00-16:00"),
    ],
)
def test_quiet_hours_are_normalised(quiet: str, expected: str) -> None:
    assert validate_customer(good(quiet_hours=quiet), RULES).quiet_hours == expected


def test_text_fields_are_trimmed_and_blank_means_absent() -> None:
    record = validate_customer(
        good(customer_id="  C1 ", name="  ", feeder=" F-1 ", transformer=""), RULES
    )
    assert (record.customer_id, record.name, record.feeder, record.transformer) == (
        "C1",
        None,
        "F-1",
        None,
    )


@pytest.mark.parametrize(("lat", "lon"), [(90, 180), (-90, -180), ("-90", "180.0"), (0, 0)])
def test_coordinate_limits_are_inclusive(lat: Any, lon: Any) -> None:
    record = validate_customer(good(lat=lat, lon=lon), RULES)
    assert (record.lat, record.lon) == (float(lat), float(lon))


# ---- bad rows: rejected with index, line and reason; good rows go through -------------------------

BAD_CSV_ROWS = [
    # (row, words expected in the reason)
    ("A,,+358 40 12,,,60.17,24.94,,,,", ["phone", "not a valid number"]),
    ("B,,not a phone,,,60.17,24.94,,,,", ["phone", "not a phone number"]),
    ("C,,,maija@,,60.17,24.94,,,,", ["email", "not a valid address"]),
    ("D,,,maija.example.fi,,60.17,24.94,,,,", ["email", "not a valid address"]),
    ("E,,,,,91,24.94,,,,", ["lat", "out of range"]),
    ("F,,,,,60.17,-180.5,,,,", ["lon", "out of range"]),
    ("G,,,,,,24.94,,,,", ["lat", "missing"]),
    ("H,,,,,60.17,,,,,", ["lon", "missing"]),
    ("I,,,,,sixty,24.94,,,,", ["lat", "not a number"]),
    ("J,,,,,60.17,nan,,,,", ["lon"]),
    ("K,,,,,inf,24.94,,,,", ["lat"]),
    ("L,,,,de,60.17,24.94,,,,", ["language", "fi, sv, en"]),
    ("M,,,,,60.17,24.94,fax,,,", ["channels", "fax"]),
    ("N,,,,,60.17,24.94,sms,,,", ["sms", "no phone"]),
    ("O,,,,,60.17,24.94,email,,,", ["email", "no email"]),
    ("P,,,,,60.17,24.94,,,,25:00-07:00", ["quiet_hours", "HH:MM-HH:MM"]),
    ("Q,,,,,60.17,24.94,,,,tonight", ["quiet_hours", "HH:MM-HH:MM"]),
    ("R,,,,,60.17,24.94,,,,22:00-22:00", ["quiet_hours", "same time"]),
    (",,,,,60.17,24.94,,,,", ["customer_id", "missing"]),
    ("S,,,,,60.17,24.94,,,,,extra", ["more cells"]),
]


@pytest.mark.parametrize(("row", "words"), BAD_CSV_ROWS, ids=[r[0][:2] for r in BAD_CSV_ROWS])
def test_bad_csv_row_is_rejected_with_index_line_and_reason(row: str, words: list[str]) -> None:
    good_before = "OK1,,,,,60.17,24.94,,,,"
    good_after = "OK2,,,,,60.18,24.95,,,,"
    parsed = parse(csv_file(good_before, row, good_after))
    assert [(i, r.customer_id) for i, r in parsed.records] == [(0, "OK1"), (2, "OK2")]
    assert len(parsed.rejections) == 1
    rejection = parsed.rejections[0]
    assert rejection.index == 1
    assert rejection.line == 3  # header is line 1
    for word in words:
        assert word in rejection.error, rejection.error
    row_id = row.split(",")[0]
    if row_id and "more cells" not in words:
        assert rejection.customer_id == row_id
        assert rejection.as_dict() == {
            "index": 1,
            "error": rejection.error,
            "customer_id": row_id,
            "line": 3,
        }


def test_every_bad_row_of_one_file_is_reported_and_every_good_one_kept() -> None:
    rows = []
    for n, (row, _) in enumerate(BAD_CSV_ROWS):
        rows += [row, f"GOOD{n},,,,,60.1,24.9,,,,"]
    parsed = parse(csv_file(*rows))
    assert [r.customer_id for _, r in parsed.records] == [
        f"GOOD{n}" for n in range(len(BAD_CSV_ROWS))
    ]
    assert [r.index for r in parsed.rejections] == list(range(0, 2 * len(BAD_CSV_ROWS), 2))
    assert [r.line for r in parsed.rejections] == list(range(2, 2 * len(BAD_CSV_ROWS) + 2, 2))


def test_a_cell_that_spans_lines_is_rejected_and_lines_still_count_as_the_file_does() -> None:
    data = csv_file(
        'C1,"two\nlines",,,,60.17,24.94,,,,', "C2,,,,,99,24.94,,,,", "C3,,,,,60.1,24.9,,,,"
    )
    parsed = parse(data)
    assert [r.customer_id for _, r in parsed.records] == ["C3"]
    assert [(r.index, r.line) for r in parsed.rejections] == [(0, 3), (1, 4)]
    assert "name contains a control character (U+000A)" in parsed.rejections[0].error


def test_repeated_customer_id_is_rejected_naming_the_first() -> None:
    parsed = parse(csv_file("C1,,,,,60.17,24.94,,,,", "C2,,,,,60.1,24.9,,,,", " C1 ,,,,,61,25,,,,"))
    assert [(i, r.customer_id, r.lat) for i, r in parsed.records] == [
        (0, "C1", 60.17),
        (1, "C2", 60.1),
    ]
    [rejection] = parsed.rejections
    assert (rejection.index, rejection.line, rejection.customer_id) == (2, 4, "C1")
    assert "repeats" in rejection.error and "line 2" in rejection.error  # as the file counts


def test_a_bad_row_does_not_claim_its_customer_id() -> None:
    parsed = parse(csv_file("C1,,,,,99,24.94,,,,", "C1,,,,,60.17,24.94,,,,"))
    assert [(i, r.customer_id) for i, r in parsed.records] == [(1, "C1")]
    assert [r.index for r in parsed.rejections] == [0]


def test_semicolon_csv_unquoted_channel_list_is_too_many_cells() -> None:
    header = "customer_id;phone;email;lat;lon;channels"
    parsed = parse(csv_file("C1;0401234567;a@example.fi;60,17;24,94;sms;email", header=header))
    assert parsed.records == []
    assert "more cells" in parsed.rejections[0].error


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (good(lat=True), ["lat"]),
        (good(lon=False), ["lon"]),
        (good(lat=[60]), ["lat", "not a number"]),
        (good(lat={"deg": 60}), ["lat", "not a number"]),
        (good(lat=float("nan")), ["lat"]),
        (good(lon=float("inf")), ["lon"]),
        (good(lat=None), ["lat", "missing"]),
        (good(lat="  "), ["lat", "missing"]),
        (good(phone=["040 123 4567"]), ["phone", "text"]),
        (good(name=True), ["name", "text"]),
        (good(customer_id="x" * 101), ["customer_id", "longer than 100"]),
        (good(channels=["sms"]), ["sms", "no phone"]),
        (good(channels=["pigeon"]), ["pigeon"]),
        ({"lat": 60.17, "lon": 24.94}, ["customer_id", "missing"]),
    ],
    ids=repr,
)
def test_bad_json_customer_is_rejected_with_a_reason(raw: dict[str, Any], words: list[str]) -> None:
    parsed = parse_json_list([good(customer_id="OK"), raw], RULES)
    assert [r.customer_id for _, r in parsed.records] == ["OK"]
    [rejection] = parsed.rejections
    assert rejection.index == 1 and rejection.line is None
    for word in words:
        assert word in rejection.error, rejection.error


@pytest.mark.parametrize("item", [None, 5, "C1", ["C1", 60, 24]], ids=repr)
def test_json_item_that_is_not_an_object_is_rejected(item: Any) -> None:
    parsed = parse_json_list([item, good()], RULES)
    assert [i for i, _ in parsed.records] == [1]
    assert parsed.rejections[0].index == 0
    assert "object" in parsed.rejections[0].error


@pytest.mark.parametrize(
    ("feature", "words"),
    [
        (
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
            },
            ["Point"],
        ),
        (
            point_feature(24.94, 60.17) | {"geometry": {"type": "Point", "coordinates": [24.94]}},
            ["[lon, lat]"],
        ),
        (
            point_feature(24.94, 60.17)
            | {"geometry": {"type": "Point", "coordinates": ["24", "60"]}},
            ["numbers"],
        ),
        (point_feature(60.17, 124.94, customer_id="X"), ["lat", "out of range"]),
        ({"type": "Point", "coordinates": [24.94, 60.17]}, ["Feature"]),
        ("C1", ["Feature"]),
    ],
    ids=["line", "short", "strings", "swapped-out-of-range", "bare-geometry", "string"],
)
def test_bad_geojson_feature_is_rejected_and_the_rest_kept(feature: Any, words: list[str]) -> None:
    document = feature_collection(
        point_feature(24.94, 60.17, customer_id="OK1"),
        feature,
        point_feature(24.95, 60.18, customer_id="OK2"),
    )
    parsed = parse(document)
    assert [(i, r.customer_id) for i, r in parsed.records] == [(0, "OK1"), (2, "OK2")]
    [rejection] = parsed.rejections
    assert rejection.index == 1
    for word in words:
        assert word in rejection.error, rejection.error


def test_geojson_in_an_unknown_crs_rejects_its_points() -> None:
    crs = {"type": "name", "properties": {"name": "EPSG:99999"}}
    parsed = parse(feature_collection(point_feature(1, 2, customer_id="C1"), crs=crs))
    assert parsed.records == []
    assert "EPSG:99999" in parsed.rejections[0].error
    assert parsed.rejections[0].customer_id == "C1"


def test_projected_point_outside_its_zone_is_rejected_not_crashing() -> None:
    crs = {"type": "name", "properties": {"name": "EPSG:3067"}}
    features = [
        point_feature(1e12, 1e12, customer_id="FAR"),
        point_feature(385800, 6672400, customer_id="OK"),
    ]
    parsed = parse(feature_collection(*features, crs=crs))
    assert [r.customer_id for _, r in parsed.records] == ["OK"]
    assert parsed.rejections[0].customer_id == "FAR"


# ---- whole-file errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        ("customer_id,name,phone", ["lat", "lon"]),
        ("name,lat,lon", ["customer_id"]),
        ("id,latitude,longitude", ["customer_id", "lat", "lon"]),
    ],
)
def test_missing_required_columns_refuse_the_file(header: str, missing: list[str]) -> None:
    with pytest.raises(FileFormatError) as info:
        parse(csv_file("1,2,3", header=header))
    for column in missing:
        assert column in str(info.value)


def test_file_that_is_not_utf8_is_refused() -> None:
    data = (HEADER + "\nC1,Mäki,,,,60.17,24.94,,,,\n").encode("latin-1")
    with pytest.raises(FileFormatError, match="not UTF-8"):
        parse(data)


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf"])
def test_empty_file_is_refused(data: bytes) -> None:
    with pytest.raises(FileFormatError, match="empty"):
        parse(data)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"type": "FeatureCollection", "features": [', "not valid JSON"),
        ('{"type": "Feature", "geometry": null}', "FeatureCollection"),
        ('{"customers": []}', "FeatureCollection"),
        ('{"type": "FeatureCollection"}', "features"),
    ],
)
def test_unreadable_json_is_refused(text: str, match: str) -> None:
    with pytest.raises(FileFormatError, match=match):
        parse(text)


def test_json_that_is_not_a_list_is_refused_by_parse_json_list() -> None:
    with pytest.raises(FileFormatError, match="list"):
        parse_json_list({"customer_id": "C1"}, RULES)


def test_parse_csv_and_parse_geojson_directly() -> None:
    assert only_record(parse_csv(csv_file(MAIJA).decode(), RULES)) == MAIJA_RECORD
    document = feature_collection(point_feature(24.94, 60.17, customer_id="G"))
    assert only_record(parse_geojson(document, RULES)).customer_id == "G"


# ---- properties ----------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, database=None)
@given(
    lat=st.floats(-90, 90, allow_nan=False),
    lon=st.floats(-180, 180, allow_nan=False),
    sep=st.sampled_from([",", ";", "\t"]),
)
def test_any_valid_coordinate_survives_every_separator(lat: float, lon: float, sep: str) -> None:
    def cell(value: float) -> str:
        text = repr(value)
        return text.replace(".", ",") if sep == ";" else text

    data = csv_file(sep.join(["C1", cell(lat), cell(lon)]), header="customer_id,lat,lon", sep=sep)
    record = only_record(parse(data))
    assert (record.lat, record.lon) == (lat, lon)


@settings(max_examples=150, deadline=None, database=None)
@given(rows=st.lists(st.tuples(st.booleans(), st.sampled_from(["A", "B", "C", "D"])), max_size=20))
def test_every_row_is_either_kept_or_rejected_exactly_once(rows: list[tuple[bool, str]]) -> None:
    lines = [f"{cid},,,,,{60 if ok else 95},24,,,," for ok, cid in rows]
    parsed = parse(csv_file(*lines))
    kept = [i for i, _ in parsed.records]
    rejected = [r.index for r in parsed.rejections]
    assert sorted(kept + rejected) == list(range(len(rows)))
    ids = [r.customer_id for _, r in parsed.records]
    assert len(ids) == len(set(ids))  # never the same customer twice
    for i, _ in parsed.records:
        assert rows[i][0]


def test_a_location_outside_a_configured_territory_is_rejected_and_the_rest_go_on() -> None:
    from outage_notify.matching.territory import read_territory

    rules = CustomerRules(territory=read_territory("19.0,59.5,31.6,70.1"))
    parsed = parse_json_list(
        [
            good(customer_id="IN"),
            good(customer_id="SW", lat=24.94, lon=60.17),
            good(customer_id="OUT", lat=48.8, lon=2.3),
        ],
        rules,
    )
    assert [r.customer_id for _, r in parsed.records] == ["IN"]
    assert [(r.index, r.customer_id) for r in parsed.rejections] == [(1, "SW"), (2, "OUT")]
    assert "outside the service territory" in parsed.rejections[0].error
    assert "swapped" in parsed.rejections[0].error
    assert "swapped" not in parsed.rejections[1].error


# ---- priority -----------------------------------------------------------------------------------

PRIORITY_HEADER = "customer_id,lat,lon,priority"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("life_support", "life_support"),
        (" Life_Support ", "life_support"),
        ("CRITICAL_FACILITY", "critical_facility"),
        ("", None),
        ("  ", None),
    ],
)
def test_priority_in_csv_is_read_case_insensitively_and_stored_lower_case(
    cell: str, expected: str | None
) -> None:
    record = only_record(parse(csv_file(f'C1,60.17,24.94,"{cell}"', header=PRIORITY_HEADER)))
    assert record.priority == expected
    assert record.as_row()["priority"] == expected


def test_priority_absent_from_the_header_means_none() -> None:
    assert only_record(parse(csv_file(MAIJA))).priority is None


def test_priority_in_geojson_and_a_json_list() -> None:
    feature = point_feature(24.94, 60.17, customer_id="G1", priority="critical_facility")
    assert only_record(parse(feature_collection(feature))).priority == "critical_facility"
    items = [good(customer_id="J1", priority="LIFE_SUPPORT"), good(customer_id="J2")]
    parsed = parse_json_list(items, RULES)
    assert [(r.customer_id, r.priority) for _, r in parsed.records] == [
        ("J1", "life_support"),
        ("J2", None),
    ]
    assert parsed.records[1][1].priority is None


@pytest.mark.parametrize(
    "value", ["vip", "life support", "life_support;critical_facility", 1, True, ["life_support"]]
)
def test_an_unknown_priority_rejects_the_row_naming_the_allowed_values(value: Any) -> None:
    parsed = parse_json_list([good(customer_id="OK"), good(customer_id="P", priority=value)], RULES)
    assert [r.customer_id for _, r in parsed.records] == ["OK"]
    [rejection] = parsed.rejections
    assert rejection.index == 1 and rejection.customer_id == "P"
    assert "priority" in rejection.error
    if not isinstance(value, bool | list):
        assert "life_support, critical_facility" in rejection.error, rejection.error


def test_an_unknown_priority_in_csv_is_rejected_with_its_line() -> None:
    parsed = parse(
        csv_file("A,60.17,24.94,life_support", "B,60.17,24.94,urgent", header=PRIORITY_HEADER)
    )
    assert [r.customer_id for _, r in parsed.records] == ["A"]
    [rejection] = parsed.rejections
    assert (rejection.line, rejection.customer_id) == (3, "B")
    assert "priority 'urgent'" in rejection.error
