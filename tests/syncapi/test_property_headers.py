"""Property-based: whatever the headers say (Content-Type parameters in every RFC 2231 form, Authorization,
X-Skyfleet-*, a Content-Length that does not match the body), the answer is never a 5xx, always JSON,
and nothing is stored unless the request was a valid upload."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import add_api_user
from tests.helpers import metadata as mdh
from tests.helpers.storage import assert_consistent
from tests.helpers.wire import EXAMPLE_KEY, EXAMPLE_USER, Sender, dumps, multipart, sized, v1_headers, v2_headers

LATIN1 = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=40)
DIGITS = st.text(st.characters(categories=("Nd", "No")), min_size=1, max_size=12)  # '²', '٣', '7'
PARAM_NAMES = st.sampled_from(["boundary", "boundary*", "boundary*0", "boundary*1", "boundary*0*", "charset", "x"])
PARAM_VALUES = st.one_of(
    LATIN1, st.from_regex(r"[0-9a-f]{32}", fullmatch=True),
    st.builds(lambda v: "UTF-8''" + v, st.text(st.sampled_from("%0123456789ABCDEFabc-'"), max_size=20)),
    st.builds(lambda v: '"' + v + '"', LATIN1))


@st.composite
def content_types(draw):
    mimetype = draw(st.sampled_from(["multipart/form-data", "multipart/mixed", "application/json", "", "x/y"]))
    params = draw(st.lists(st.tuples(PARAM_NAMES, PARAM_VALUES), max_size=3))
    return "; ".join([mimetype] + [f"{name}={value}" for name, value in params])


@st.composite
def requests_(draw):
    media = draw(st.binary(max_size=200))
    meta = dumps(sized(mdh.asset("image", when=mdh.NIGHT_START + draw(st.integers(0, 10**6))), media))
    body, ctype = multipart(meta, media)
    method, path = "PUT", "/indi-allsky/sync/v1/image"
    headers = (v2_headers(EXAMPLE_USER, EXAMPLE_KEY, method, path, meta, media) if draw(st.booleans())
               else v1_headers(EXAMPLE_USER, EXAMPLE_KEY, meta))
    headers["Content-Type"] = ctype
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(["Content-Type", "Authorization", "X-Skyfleet-Date", "X-Skyfleet-Nonce",
                                     "X-Skyfleet-Metadata-SHA256", "X-Skyfleet-Media-SHA256", "Content-Length"]))
        if name == "Content-Type":
            headers[name] = draw(content_types())
        elif name == "X-Skyfleet-Date":
            headers[name] = draw(st.one_of(DIGITS, LATIN1))
        elif name == "Content-Length":
            headers[name] = str(max(0, len(body) + draw(st.integers(-50, 50))))
        elif name == "Authorization":
            word = draw(st.sampled_from(["Bearer", "SKYFLEET-HMAC-SHA256", "", "bearer"]))
            headers[name] = f"{word} {draw(LATIN1)}:{draw(LATIN1)}" if draw(st.booleans()) else draw(LATIN1)
        else:
            headers[name] = draw(LATIN1)
    return path, body, headers


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(req=requests_())
def test_odd_headers_never_crash(app, req):
    if not getattr(app, "_headers_ready", False):
        add_api_user(app)
        assert Sender(app.test_client()).send("PUT", "camera", mdh.camera(), b"").status_code == 200
        app._headers_ready = True
    path, body, headers = req
    overrides = {}
    if "Content-Length" in headers:
        overrides["CONTENT_LENGTH"] = headers.pop("Content-Length")
    ctype = headers.pop("Content-Type")
    resp = app.test_client().put(path, data=body, headers={**headers, "Content-Type": ctype},
                                 environ_overrides=overrides)
    assert resp.status_code < 500, (resp.status_code, resp.get_data()[:300])
    assert resp.is_json, resp.get_data()[:200]
    assert_consistent(app)
