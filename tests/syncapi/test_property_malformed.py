"""Property-based: malformed multipart bodies and metadata never cause a 5xx, never write outside the
storage folder, and leave the database consistent with the files."""
import json
import os

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conftest import add_api_user
from tests.helpers import metadata as mdh
from tests.helpers.storage import assert_consistent
from tests.helpers.wire import EXAMPLE_KEY, EXAMPLE_USER, Sender, multipart, v1_headers

SEGMENTS = st.sampled_from(list(mdh.ALL_KINDS) + ["camera", "..", "image%2F..", "x" * 300, "IMAGE"])
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                         st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(
    st.text(max_size=10), kids, max_size=4), max_leaves=12)
KEYS = st.sampled_from(["createDate", "dayDate", "utc_offset", "night", "camera_uuid", "file_size", "uuid",
                        "exposure", "gain", "binmode", "stars", "data", "width", "height", "thumbnail_uuid",
                        "keogram_pixels", "targetDate", "startDate", "endDate", "origin", "id", "name"])
NAMES = st.one_of(st.sampled_from(["a.jpg", "x.JPG", "t.mp4"]),
                  st.sampled_from(["a.jpg", "../../x.jpg", "a/b.mp4", "noext", ".jpg", "a.j p g", "a..jpg",
                                   "x.JPG", "", "bogus.ext"]), st.text(max_size=30))


@st.composite
def mutated_metadata(draw):
    kind = draw(st.sampled_from(mdh.ALL_KINDS))
    meta = mdh.asset(kind)
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2, 4]))):
        action = draw(st.sampled_from(["set", "delete"]))
        key = draw(KEYS)
        if action == "set":
            meta[key] = draw(JSON_VALUES)
        else:
            meta.pop(key, None)
    return kind, meta


@st.composite
def requests_(draw):
    choice = draw(st.sampled_from([0, 1, 1, 1, 1, 2, 3]))
    method = draw(st.sampled_from(["POST", "PUT", "POST", "PUT", "GET", "DELETE"]))
    segment = draw(SEGMENTS)
    weak = draw(st.integers(0, 3)) == 0
    if choice == 0:  # raw garbage with a multipart content type
        body = draw(st.binary(max_size=600))
        boundary = draw(st.text("abc-", min_size=1, max_size=8))
        return method, segment, body, "multipart/form-data; boundary=" + boundary, b""
    kind, meta = draw(mutated_metadata())
    media = draw(st.binary(max_size=3000))
    if draw(st.integers(0, 4)):
        meta["file_size"] = len(media)
    raw = json.dumps(meta).encode() if choice != 3 else draw(st.binary(max_size=200))
    body, ctype = multipart(raw, media if draw(st.integers(0, 5)) else None, draw(NAMES),
                            media_first=draw(st.booleans()))
    if choice == 2 and body:  # corrupt the envelope somewhere
        cut = draw(st.integers(0, len(body) - 1))
        body = body[:cut] + draw(st.binary(max_size=20)) + body[cut + draw(st.integers(0, 20)):]
    return method, segment if weak else kind, body, ctype, raw


def files_outside_storage(root, app):
    allowed_prefix = str(app.extensions["skyfleet"].storage.root)
    data = app.extensions["skyfleet"].settings.data_dir
    allowed = {str(data / "secret.key")}
    out = []
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            if p.startswith(allowed_prefix + os.sep) or p in allowed or p.startswith(str(data / "skyfleet.db")):
                continue
            out.append(p)
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(req=requests_())
def test_malformed_requests_never_crash_or_escape(app, tmp_path, req):
    if not getattr(app, "_prop_ready", False):
        add_api_user(app)
        assert Sender(app.test_client()).send("PUT", "camera", mdh.camera(), b"").status_code == 200
        app._prop_ready = True
    method, segment, body, ctype, signed = req
    headers = v1_headers(EXAMPLE_USER, EXAMPLE_KEY, signed)
    resp = app.test_client().open(f"/indi-allsky/sync/v1/{segment}", method=method, data=body,
                                  content_type=ctype, headers=headers)
    body = resp.get_json(silent=True)
    event(f"status {resp.status_code} {body.get('error') if isinstance(body, dict) else ''}")
    assert resp.status_code < 500, (resp.status_code, resp.get_data()[:500])
    assert resp.is_json, resp.get_data()[:200]
    assert files_outside_storage(tmp_path, app) == []
    assert_consistent(app)
