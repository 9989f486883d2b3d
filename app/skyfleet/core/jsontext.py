"""A JSON reader for SyncAPI metadata that no input can crash: no recursion, bounded depth and digits.

It reads what Python's json module writes (and what indi-allsky sends), bare NaN and Infinity
included, with two differences that keep every later step safe:

- a value nested deeper than `max_depth` is not built: it is kept as its JSON text (a string), so
  no later recursive walk (sanitising, storing in a JSON column, json.dumps) can hit the recursion
  limit, however deep the input (json.loads fails with RecursionError at about 1,000 levels);
- an integer with more digits than Python converts (4,300 since 3.11 and in security releases of
  3.9/3.10) is kept as its digit text instead of failing.

Any syntax error is a ValueError with the character position.
"""
from __future__ import annotations

import json
import re
from json.decoder import scanstring
from typing import Any

MAX_DEPTH = 64

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"(-?(?:0|[1-9][0-9]*))(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_CONSTANTS = (("true", True), ("false", False), ("null", None), ("NaN", float("nan")),
              ("Infinity", float("inf")), ("-Infinity", float("-inf")))
_CLOSER = {"[": "]", "{": "}"}


class _Open:
    """A container being read: its Python value (None when too deep to build) and where it started."""

    __slots__ = ("closer", "value", "start", "key")

    def __init__(self, opener: str, start: int, build: bool):
        self.closer = _CLOSER[opener]
        self.value: Any = None if not build else ([] if opener == "[" else {})
        self.start = start
        self.key: str | None = None


def loads(text: str, max_depth: int = MAX_DEPTH) -> Any:
    if text.count("[") + text.count("{") <= min(max_depth, MAX_DEPTH):
        # Nothing in it can nest deeper than max_depth (nor recurse deep in json's reader): json.loads
        # builds the same value 15 times faster (every upload's metadata is read).  What it refuses is
        # read step by step, which keeps long integers as digits and gives a refusal its position.
        try:
            return json.loads(text)
        except ValueError:
            pass
    return loads_step_by_step(text, max_depth)


def loads_step_by_step(text: str, max_depth: int = MAX_DEPTH) -> Any:
    """`loads` without json's reader: no recursion, whatever the depth."""
    pos = _skip(text, 0)
    stack: list[_Open] = []
    while True:
        # A value starts at pos.
        char = text[pos:pos + 1]
        if char in _CLOSER:
            frame = _Open(char, pos, build=len(stack) < max_depth and (not stack or stack[-1].value is not None))
            stack.append(frame)
            pos = _skip(text, pos + 1)
            if text[pos:pos + 1] == frame.closer:
                value, pos = _close(text, stack, pos)
            elif frame.closer == "}":
                pos = _key(text, pos, frame)
                continue
            else:
                continue
        else:
            value, pos = _scalar(text, pos)
        # A value ended at pos: add it to its container, then close containers as long as they end.
        while True:
            if not stack:
                pos = _skip(text, pos)
                if pos != len(text):
                    raise _error("Extra data", pos)
                return value
            frame = stack[-1]
            if frame.value is not None:
                if frame.closer == "]":
                    frame.value.append(value)
                else:
                    frame.value[frame.key] = value
            pos = _skip(text, pos)
            char = text[pos:pos + 1]
            if char == ",":
                pos = _skip(text, pos + 1)
                if frame.closer == "}":
                    pos = _key(text, pos, frame)
                break
            if char != frame.closer:
                raise _error(f"Expecting ',' or {frame.closer!r} delimiter", pos)
            value, pos = _close(text, stack, pos)


def _close(text: str, stack: list[_Open], pos: int) -> tuple[Any, int]:
    frame = stack.pop()
    end = pos + 1
    if frame.value is None and (not stack or stack[-1].value is not None):
        return text[frame.start:end], end  # the outermost container that was too deep: its JSON text
    return frame.value, end


def _key(text: str, pos: int, frame: _Open) -> int:
    if text[pos:pos + 1] != '"':
        raise _error("Expecting property name enclosed in double quotes", pos)
    frame.key, pos = scanstring(text, pos + 1, True)
    pos = _skip(text, pos)
    if text[pos:pos + 1] != ":":
        raise _error("Expecting ':' delimiter", pos)
    return _skip(text, pos + 1)


def _scalar(text: str, pos: int) -> tuple[Any, int]:
    char = text[pos:pos + 1]
    if char == '"':
        return scanstring(text, pos + 1, True)
    for word, value in _CONSTANTS:
        if text.startswith(word, pos):
            return value, pos + len(word)
    match = _NUMBER.match(text, pos)
    if match is None:
        raise _error("Expecting value", pos)
    whole, fraction, exponent = match.groups()
    if fraction or exponent:
        return float(match.group()), match.end()  # beyond float range: inf, as json.loads
    try:
        return int(whole), match.end()
    except ValueError:  # more digits than int() converts
        return whole, match.end()


def _skip(text: str, pos: int) -> int:
    return _WHITESPACE.match(text, pos).end()


def _error(message: str, pos: int) -> ValueError:
    return ValueError(f"{message}: char {pos}")
