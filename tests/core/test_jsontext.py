"""The metadata JSON reader: the same values as json.loads for what json.loads reads, and no crash on
what it cannot (deep nesting, integers with more digits than int() converts)."""
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyfleet.core.jsontext import MAX_DEPTH, loads, loads_step_by_step

# `loads` hands what cannot nest deeper than MAX_DEPTH to json.loads: the reader of its own is checked
# against json.loads too, on every input
READERS = pytest.mark.parametrize("read", [loads, loads_step_by_step], ids=["loads", "step_by_step"])

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(),
    lambda kids: st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=8), kids, max_size=5),
    max_leaves=30)


def same(a, b) -> bool:
    """Equality where NaN equals NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@READERS
@settings(max_examples=400, deadline=None)
@given(value=JSON, indent=st.sampled_from([None, 1, 4]))
def test_reads_what_python_writes_as_json_loads_does(read, value, indent):
    text = json.dumps(value, indent=indent)
    assert same(read(text), json.loads(text))


@READERS
@settings(max_examples=400, deadline=None)
@given(text=st.text(alphabet='[]{}",:0123456789.eE+-tfnulrasNIiy \n\\', max_size=40))
def test_accepts_and_refuses_what_json_loads_does(read, text):
    try:
        expected = json.loads(text)
    except ValueError:
        with pytest.raises(ValueError):
            read(text)
    else:
        assert same(read(text), expected)


@pytest.mark.parametrize("depth", [1000, 10_000, 100_000])
@pytest.mark.parametrize("opener,closer", [("[", "]"), ('{"k": ', "}")])
def test_deep_nesting_is_kept_as_json_text_below_the_limit(depth, opener, closer):
    inner = opener * depth + "1" + closer * depth if opener != "[" else opener * depth + closer * depth
    value = loads('{"a": ' + inner + ', "b": 2}')
    assert value["b"] == 2
    level, node = 1, value["a"]
    while not isinstance(node, str):
        node = node[0] if isinstance(node, list) else node["k"]
        level += 1
    assert level == MAX_DEPTH  # the container that would be one level too deep is its text
    assert node.startswith(opener) and node.endswith(closer)
    assert loads(node, max_depth=10**6) is not None


@pytest.mark.parametrize("text", ["[" * 5000 + "]" * 4999, '{"a": ' + "[" * 5000 + "]" * 5000, "[" * 5000 + "}"])
def test_deep_but_broken_json_is_refused(text):
    with pytest.raises(ValueError):
        loads(text)


def test_integers_beyond_int_conversion_are_kept_as_digits():
    digits = "7" * 5000
    assert loads(f"[{digits}, 10]") == [digits, 10]
    assert loads("1" + "0" * 400) == 10**400
    assert loads("[1e400, -1e400]") == [math.inf, -math.inf]


@pytest.mark.parametrize("text", ['{"a": 1,}', '{"a": nan}', '[1, 2', '{"a": "\x01"}', '{"a": 1} x'])
def test_a_refusal_is_the_step_by_step_readers_with_its_position(text):
    with pytest.raises(ValueError) as fast:
        loads(text)
    with pytest.raises(ValueError) as step:
        loads_step_by_step(text)
    assert str(fast.value) == str(step.value)
    assert "position" in str(fast.value) or "char" in str(fast.value), fast.value
