"""Property of every recorded indi-allsky request (tests/helpers/indi_allsky.py), through the Flask test
client with bodies signed and framed as that client sends them:

- each field that decides neither identity, a path nor a size, replaced by each kind of JSON value, is
  accepted (2xx), and the row holds the value in its column when it fits (by an oracle written here
  from the column types) or keeps it under data["_received"]; every field at once per kind of value,
  and (hypothesis) one field at a time, the others keeping their recorded values;
- each key field with a wrong value is a 4xx whose message names the key, and changes nothing;
- nothing is ever a 5xx, and rows and files stay consistent after every request.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, Boolean, DateTime, Float, Integer, String, func, select

from skyfleet.extensions import db
from skyfleet.models import Asset, Camera, LongTermKeogram
from tests.conftest import add_api_user
from tests.helpers.indi_allsky import CAMERA, FIXTURES, request_parts
from tests.helpers.media import fake
from tests.helpers.storage import assert_consistent
from tests.helpers.wire import EXAMPLE_KEY, EXAMPLE_USER


class Deep(list):
    """A value nested 5,000 levels (kept as far as JSON columns nest): compared by presence only."""


DEEP_ARRAYS, DEEP_OBJECTS = Deep(["arrays"]), Deep(["objects"])
VALUES = [  # (name, JSON text as sent, the Python value it means)
    ("null", "null", None), ("true", "true", True), ("false", "false", False), ("one", "1", 1),
    ("int", "7", 7), ("negative int", "-3", -3), ("float", "2.5", 2.5), ("whole float", "4.0", 4.0),
    ("huge int", "1" + "0" * 400, 10**400), ("huge negative int", "-1" + "0" * 400, -(10**400)),
    ("1e400", "1e400", math.inf), ("NaN", "NaN", math.nan), ("-Infinity", "-Infinity", -math.inf),
    ("string", '"text"', "text"), ("numeric string", '"15.0"', "15.0"), ("empty string", '""', ""),
    ("long string", json.dumps("s" * 5000), "s" * 5000), ("NUL string", '"a\\u0000b"', "a\x00b"),
    ("lone surrogate", '"\\ud800"', "\ud800"), ("list", '[1, "a", null]', [1, "a", None]),
    ("empty list", "[]", []), ("object", '{"a": 1.5}', {"a": 1.5}), ("empty object", "{}", {}),
    ("deep arrays", "[" * 5000 + "]" * 5000, DEEP_ARRAYS),
    ("deep objects", '{"k": ' * 5000 + "1" + "}" * 5000, DEEP_OBJECTS),
]
ASSET_KEYS = {"camera_uuid", "createDate", "dayDate", "night", "file_size", "thumbnail_uuid", "uuid"}
MINIVIDEO_KEYS = {"startDate", "endDate"}
IGNORED = {"type", "fileSize"}
CAMERA_IGNORED = {"type", "hidden", "file_size", "web_nonlocal_images", "web_local_images_admin"}
CAMERA_COLUMNS = {"name", "driver", "tz", "location", "owner", "latitude", "longitude", "elevation", "width",
                  "height", "utc_offset"}
COLUMN_OF = {"targetDate": "target_date"}
UNKNOWN = object()  # NaN, +-Infinity and null: the column is empty and nothing is kept
KEPT = object()


def render(meta: dict, key: str | list[str], raw_value: str) -> bytes:
    """Python's json output (the fixtures' indent 1) with `key` (or each of several) set to JSON text that
    json.dumps cannot write (5,000 levels, NaN as sent, 10**400)."""
    keys = [key] if isinstance(key, str) else key
    text = json.dumps(dict(meta, **{k: "@@VALUE@@" for k in keys}), indent=1)
    return text.replace('"@@VALUE@@"', raw_value).encode()


def finite_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) < 1.7e308 and \
        not (isinstance(value, float) and math.isnan(value))


def storable(value, length: int | None) -> bool:
    if not isinstance(value, str) or "\x00" in value or (length is not None and len(value) > length):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def expected_column(column, value) -> Any:
    """What a column of this type should hold for `value`: the converted value, UNKNOWN or KEPT."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return UNKNOWN
    kind = column.type
    if isinstance(kind, Boolean):
        return bool(value) if isinstance(value, bool) or (type(value) is int and value in (0, 1)) else KEPT
    if isinstance(kind, Integer):
        bits = 63 if isinstance(kind, BigInteger) else 31
        whole = finite_number(value) and value == int(value)
        return int(value) if whole and -(2**bits) <= value < 2**bits else KEPT
    if isinstance(kind, Float):
        return float(value) if finite_number(value) else KEPT
    if isinstance(kind, DateTime):
        in_range = finite_number(value) and 631152000 <= value <= 7258118400
        return dt.datetime.fromtimestamp(value, dt.timezone.utc).replace(tzinfo=None) if in_range else KEPT
    if isinstance(kind, String):
        return value if storable(value, kind.length) else KEPT
    raise AssertionError(f"no oracle for {column}")


def expected_asset_field(key: str, value, default_offset: int) -> tuple[str | None, Any]:
    """(column name or None, expected value) for a non-key field of an asset."""
    table = Asset.__table__
    if key == "utc_offset":
        ok = finite_number(value) and abs(value) <= 18 * 3600
        return "utc_offset", round(value) if ok else (default_offset, UNKNOWN if value is None or (
            isinstance(value, float) and not math.isfinite(value)) else KEPT)
    if key == "adu_roi":
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return "adu_roi", UNKNOWN
        if value is False:
            return "adu_roi", []
        ok = isinstance(value, list) and all(finite_number(v) for v in value)
        return "adu_roi", value if ok else KEPT
    if key == "origin":
        got = expected_column(table.c.origin, value)
        return "origin", got if got not in (KEPT, UNKNOWN) else (-1, got)
    column = COLUMN_OF.get(key, key)
    if column in table.c and key not in ("data", "keogram_pixels"):
        return column, expected_column(table.c[column], value)
    return None, None


@pytest.fixture
def ready(app_factory):
    # Every field 5,000 levels deep at once is megabytes of metadata: above the default 256 KiB limit.
    app = app_factory(syncapi={"max_metadata_kb": 8192})
    add_api_user(app)
    client = app.test_client()
    first = send(client, CAMERA, CAMERA.raw, b"")
    assert first.status_code == 200, first.get_json()
    return app, client


def send(client, fixture, metadata: bytes, media: bytes, media_name: str | None = None):
    body, headers = request_parts(EXAMPLE_USER, EXAMPLE_KEY, metadata, media, media_name or fixture.media_name)
    return client.put(f"/indi-allsky/sync/v1/{fixture.segment}", data=body, headers=headers)


def accepted(resp, case):
    assert resp.status_code == 200, (case, resp.status_code, resp.get_data()[:300])
    return resp.get_json()


def received_of(data: dict) -> dict:
    return data.get("_received", {}) if isinstance(data, dict) else {}


def check_kept(received: dict, key: str, value, case) -> None:
    assert key in received, (case, received)
    if not isinstance(value, Deep):
        assert received[key] == _json_safe(value), case


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


def unknown(value) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


NEW_KEY = "added_by_a_newer_release"


def tolerant_keys(fixture) -> list[str]:
    if fixture.segment == "camera":
        return [k for k in fixture.meta if k != "uuid"] + [NEW_KEY]
    strict = ASSET_KEYS | (MINIVIDEO_KEYS if fixture.segment == "minivideo" else set())
    return [k for k in fixture.meta if k not in strict] + [NEW_KEY]


def put_and_check(app, client, fixture, keys: list[str], raw: str, value, case) -> None:
    """PUT the recording with `keys` set to `raw`, then check every tolerant field of the row."""
    meta = fixture.meta
    media = b"" if fixture.empty or fixture.segment == "camera" else fake(fixture.media_name, os.urandom(64))
    if fixture.segment != "camera":
        meta = dict(meta, file_size=len(media))
    with app.app_context():
        camera_offset = db.session.scalar(select(Camera.utc_offset).where(Camera.uuid == CAMERA.meta["uuid"]))
    reply = accepted(send(client, fixture, render(meta, keys, raw), media), case)
    assert_consistent(app)
    sent = {k: (value if k in keys else meta[k]) for k in tolerant_keys(fixture) if k in keys or k in meta}
    with app.app_context():
        if fixture.segment == "camera":
            camera = db.session.get(Camera, reply["id"])
            for key, v in sent.items():
                check_camera_field(camera, key, v, (case, key))
        else:
            row = db.session.get(Asset, reply["id"])
            for key, v in sent.items():
                check_asset_field(row, key, v, (case, key), camera_offset)
            if fixture.empty:  # an identical empty repeat would answer the old row: start afresh
                db.session.delete(row)
                db.session.commit()
    if fixture.segment == "camera":  # back to the recorded values (a refused value keeps the last one)
        accepted(send(client, CAMERA, CAMERA.raw, b""), case)


def check_asset_field(row: Asset, key: str, value, case, camera_offset: int) -> None:
    received = received_of(row.data)
    if key in IGNORED:
        assert key not in received, case
        return
    if key == "data":
        if value is DEEP_OBJECTS:  # an object: stored as data, nested as deep as JSON columns go
            assert "k" in row.data and "data" not in received, case
        elif isinstance(value, dict):
            assert {k: v for k, v in row.data.items() if k != "_received"} == _json_safe(value), case
        elif value is not None:
            check_kept(received, "data", value, case)
        return
    column, expected = expected_asset_field(key, value, default_offset=camera_offset)
    if column is None:  # no column: keogram_pixels (valid only as [R, G, B] triples) or an unknown key
        if not (key == "keogram_pixels" and (unknown(value) or value == [] or value == row_pixels(row))):
            check_kept(received, key, value, case)
        return
    if isinstance(expected, tuple):  # a default stands in for the unusable value
        expected, how = expected
        assert getattr(row, column) == expected, case
        assert (key in received) == (how is KEPT), case
        return
    if expected is UNKNOWN:
        assert getattr(row, column) is None and key not in received, case
    elif expected is KEPT:
        assert getattr(row, column) is None, case
        check_kept(received, key, value, case)
    else:
        assert getattr(row, column) == expected and type(getattr(row, column)) is type(expected), case
        assert key not in received, case


def row_pixels(row: Asset):
    found = db.session.scalar(select(LongTermKeogram.pixels).where(
        LongTermKeogram.camera_id == row.camera_id,
        LongTermKeogram.ts == int(row.create_date_utc.replace(tzinfo=dt.timezone.utc).timestamp())))
    return found


def check_camera_field(camera: Camera, key: str, value, case) -> None:
    recorded = CAMERA.meta
    received = received_of(camera.data)
    if key in CAMERA_IGNORED:
        assert key not in received and key not in camera.data.get("camera", {}), case
    elif key == "name":
        fits = isinstance(value, str) and storable(value, None) and value.strip() != ""
        assert camera.name == (value[:128] if fits else recorded["name"]), case
        if (not fits and value is not None) or (fits and len(value) > 128):
            check_kept(received, key, value, case)
    elif key == "data":
        if value is DEEP_OBJECTS:
            assert "k" in camera.data, case
        elif isinstance(value, dict):
            assert {k: camera.data[k] for k in value} == _json_safe(value), case
        elif value is not None:
            check_kept(received, "data", value, case)
    elif key in CAMERA_COLUMNS:
        if key == "utc_offset":
            ok = finite_number(value) and abs(value) <= 18 * 3600
            expected = round(value) if ok else (UNKNOWN if unknown(value) else KEPT)
        else:
            expected = expected_column(Camera.__table__.c[key], value)
        if expected is UNKNOWN or expected is KEPT:  # the column keeps the last value
            assert getattr(camera, key) == recorded[key], case
            assert (key in received) == (expected is KEPT), case
        else:
            assert getattr(camera, key) == expected, case
            assert key not in received, case
    else:  # no column: kept beside the others under data["camera"]
        extras = camera.data["camera"]
        assert key in extras and (isinstance(value, Deep) or extras[key] == _json_safe(value)), case


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda f: f.file)
def test_every_tolerant_field_takes_every_json_type(ready, fixture):
    app, client = ready
    for name, raw, value in VALUES:
        put_and_check(app, client, fixture, tolerant_keys(fixture), raw, value, (fixture.file, "every field", name))


@st.composite
def one_odd_field(draw):
    fixture = draw(st.sampled_from(FIXTURES))
    return fixture, draw(st.sampled_from(tolerant_keys(fixture))), draw(st.sampled_from(VALUES))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(case=one_odd_field())
def test_one_odd_field_leaves_the_others_as_recorded(ready, case):
    app, client = ready
    fixture, key, (name, raw, value) = case
    put_and_check(app, client, fixture, [key], raw, value, (fixture.file, key, name))


BAD_VALUES = {
    "uuid": ["5", "2.5", "true", "[]", "{}", '"not-a-uuid"', '"../../etc/passwd"', '""', "1" + "0" * 400,
             "[" * 5000 + "]" * 5000],
    "epoch": ['"1796108862"', "true", "[]", "{}", "1" + "0" * 400, "1e400", "NaN", "-5", "0", "1e12",
              "[" * 5000 + "]" * 5000],
    "dayDate": ["20261130", '"2026-11-30"', '"20261399"', '""', '"20261130\\n"', '"../x"', "[]",
                '"\\uff12\\uff10\\uff12\\uff16\\uff11\\uff11\\uff13\\uff10"', "[" * 5000 + "]" * 5000],
    "night": ['"yes"', '"true"', "2", "2.5", "[]", "{}", "[" * 5000 + "]" * 5000],
    "file_size": ['"64"', "-1", "1.5", "true", "[]", "1" + "0" * 400, "NaN", "65", "[" * 5000 + "]" * 5000],
}
KIND_OF_KEY = {"camera_uuid": "uuid", "uuid": "uuid", "thumbnail_uuid": "uuid", "createDate": "epoch",
               "startDate": "epoch", "endDate": "epoch", "dayDate": "dayDate", "night": "night",
               "file_size": "file_size"}
REQUIRED = {"camera_uuid", "uuid", "createDate", "startDate", "endDate", "dayDate", "night", "file_size"}


def count_rows(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Asset.id)))


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda f: f.file)
def test_a_bad_key_field_is_a_4xx_naming_it(ready, fixture):
    app, client = ready
    meta = fixture.meta
    media = b"" if fixture.empty or fixture.segment == "camera" else fake(fixture.media_name, b"m" * 64)[:64]
    if fixture.segment != "camera":
        meta = dict(meta, file_size=len(media))
    keys = ["uuid"] if fixture.segment == "camera" else [k for k in meta if k in KIND_OF_KEY]
    before = count_rows(app)
    for key in keys:
        bad = BAD_VALUES[KIND_OF_KEY[key]] + (["null"] if key in REQUIRED else [])
        for raw in bad:
            if key == "file_size" and raw == "65" and fixture.empty:
                raw = "1"
            resp = send(client, fixture, render(meta, key, raw), media)
            case = (fixture.file, key, raw[:40])
            assert 400 <= resp.status_code < 500 and resp.is_json, (case, resp.status_code, resp.get_data()[:300])
            assert f"'{key}'" in resp.get_json()["message"] or key in resp.get_json()["message"], case
            assert count_rows(app) == before, case
    if fixture.segment != "camera":
        for name in ("../x.jpg", "a/b.jpg", "noext", "x.", "x.j\x00pg"):
            resp = send(client, fixture, render(meta, "type", str(meta["type"])), media, media_name=name)
            assert resp.status_code == 422 and "media file name" in resp.get_json()["message"], (name, resp.get_json())
    assert count_rows(app) == before
    assert_consistent(app)
