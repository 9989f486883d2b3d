"""The commands indi_wire builds, as the fake INDI server receives them, and INDI number text."""
from __future__ import annotations

import time

import pytest

from skyfleet.capture.indi_wire import format_number, parse_number

from .fake_indi import DEV, connected_client


# --------------------------------------------------------------------------- writers
def test_commands_escape_names_and_values(server):
    client = connected_client(server)
    evil_device = 'Cam "A" & <B>'
    evil_text = 'x</oneText><oneText name="INJECTED">y</oneText> & "q" \'s\' \n end'
    try:
        client.send_text(evil_device, "NOTES", {"TEXT": evil_text, "OTHER": "plain"})
        client.send_number(evil_device, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": 0.00001})
        client.send_number(evil_device, "MANY", {"A": 1, "B": 2.5, "C": -3e20, "D": "12:30:00"})
        client.send_switch(evil_device, "CONNECTION", {"CONNECT": True, "DISCONNECT": "Off"})
        client.enable_blob("Also", evil_device, "CCD1")
        client.enable_blob("Never", evil_device)
        client.get_properties(evil_device, "CONNECTION")
        text = server.wait_command("newTextVector")
        assert text.get("device") == evil_device and text.get("name") == "NOTES"
        assert [(c.tag, c.get("name"), c.text) for c in text] == [("oneText", "TEXT", evil_text),
                                                                  ("oneText", "OTHER", "plain")]
        assert server.wait_command("newNumberVector", "CCD_EXPOSURE").find("oneNumber").text == "0.00001"
        assert [c.text for c in server.wait_command("newNumberVector", "MANY")] == ["1", "2.5", "-3e+20", "12:30:00"]
        switch = server.wait_command("newSwitchVector")
        assert [(c.get("name"), c.text) for c in switch] == [("CONNECT", "On"), ("DISCONNECT", "Off")]
        also = server.wait_command("enableBLOB")
        assert (also.get("device"), also.get("name"), also.text) == (evil_device, "CCD1", "Also")
        never = server.wait_command("enableBLOB", n=2)
        assert (never.get("device"), never.get("name"), never.text) == (evil_device, None, "Never")
        get = server.wait_command("getProperties", n=2)
        assert (get.get("version"), get.get("device"), get.get("name")) == ("1.7", evil_device, "CONNECTION")
        assert b"INJECTED" in server.raw and b'<oneText name="INJECTED">' not in server.raw
        assert b"&amp;" in server.raw and b"&lt;B&gt;" in server.raw
    finally:
        client.close()


def test_bad_command_values_are_refused_before_sending(server):
    client = connected_client(server)
    try:
        with pytest.raises(ValueError, match="enableBLOB mode"):
            client.enable_blob("Sometimes", DEV, "CCD1")
        with pytest.raises(ValueError, match="finite"):
            client.send_number(DEV, "X", {"A": float("nan")})
        with pytest.raises(ValueError, match="not a number"):
            client.send_number(DEV, "X", {"A": "lots"})
        with pytest.raises(ValueError, match="switch"):
            client.send_switch(DEV, "X", {"A": "maybe"})
        with pytest.raises(ValueError, match="cannot be sent"):
            client.send_text(DEV, "X", {"A": "bell\x07"})
        with pytest.raises(ValueError, match="at least one element"):
            client.send_text(DEV, "X", {})
        with pytest.raises(ValueError, match="non-empty"):
            client.send_text("", "X", {"A": "b"})
        time.sleep(0.1)
        assert [c.tag for c in server.commands] == ["getProperties"]
        assert client.connected
    finally:
        client.close()


def test_number_text_round_trips():
    assert [format_number(v) for v in (1, 1.0, 0.5, 1e-5, 123456.25, -2)] == ["1", "1", "0.5", "0.00001",
                                                                              "123456.25", "-2"]
    assert parse_number(" 1.5\n") == 1.5 and parse_number("-0:30") == -0.5
    assert parse_number("10 30 36") == pytest.approx(10.51) and parse_number("6;30") == 6.5
    assert parse_number("") is None and parse_number("abc") is None and parse_number(None) is None
