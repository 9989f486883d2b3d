"""IndiClient (indi_connection) against a tiny fake INDI server on 127.0.0.1 (no indiserver needed):
the reader and its property cache and BLOB queue, the waits."""
from __future__ import annotations

import logging
import os
import threading
import time
import xml.etree.ElementTree as ET
import zlib
from typing import List

import pytest

from skyfleet.capture.indi_connection import IndiClient
from skyfleet.capture.indi_errors import CameraDisconnected, CameraError, CameraTimeout, ExposureCancelled

from .fake_indi import DEV, FakeIndiServer, blob_xml, connected_client, vector_xml
from .indi_sim import free_port


# --------------------------------------------------------------------------- parsing
def test_parses_vectors_updates_deletes_and_messages_from_a_chunked_stream(server, caplog):
    client = connected_client(server)
    try:
        hello = server.wait_command("getProperties")
        assert hello.get("version") == "1.7" and hello.get("device") is None
        stream = b"".join([
            vector_xml("defSwitchVector", "CONNECTION", {"CONNECT": "Off", "DISCONNECT": "On"}, rule="OneOfMany",
                       perm="rw", label="Connection", group="Main Control", timeout="60"),
            vector_xml("defNumberVector", "CCD_GAIN", {"GAIN": "90"}, perm="rw",
                       attrs={"GAIN": {"min": "0", "max": "100", "step": "10", "format": "%.f"}}),
            vector_xml("defNumberVector", "COORD", {"RA": "6:30:00", "DEC": "-12:30:36"}, perm="rw"),
            b'<defTextVector device="Fake CCD" name="NOTES" state="Idle" perm="rw">\n    <defText name="TEXT">'
            b'\na &lt; b &amp; &quot;c&quot; &#233;t\xc3\xa9\n    </defText>\n</defTextVector>\n',
            vector_xml("defLightVector", "STATUS", {"READY": "Ok", "FAULT": "Alert"}),
            vector_xml("defBLOBVector", "CCD1", {"CCD1": ""}, perm="ro"),
            b'<message device="Fake CCD" timestamp="2026-01-01T00:00:00" message="[INFO] hello &amp; welcome"/>\n',
            vector_xml("setNumberVector", "CCD_GAIN", {"GAIN": "42"}, state="Busy"),
            vector_xml("setNumberVector", "CCD_GAIN", {"GAIN": "50"}, state="Ok", message="gain set",
                       attrs={"GAIN": {"min": "0", "max": "200"}}),
            vector_xml("setSwitchVector", "CONNECTION", {"CONNECT": "On", "DISCONNECT": "Off"}, state="Ok"),
            vector_xml("setNumberVector", "NOT_DEFINED", {"X": "1"}, state="Ok"),
            b'<delProperty device="Fake CCD" name="STATUS"/>\n',
            vector_xml("defTextVector", "INFO", {"NAME": "other"}, device="Other Device"),
        ])
        server.send(stream, chunk=5)  # every tag and attribute is split across reads
        vec = client.wait_state(DEV, "CONNECTION", 5, check=lambda v: v.get("CONNECT") == "On")
        assert vec.kind == "Switch" and vec.rule == "OneOfMany" and vec.state == "Ok" and vec.on() == ["CONNECT"]
        assert vec.label == "Connection" and vec.group == "Main Control" and vec.timeout == 60
        client.wait_for(lambda: client.vector(DEV, "STATUS") is None and "Other Device" in client.devices(),
                        "the last elements", 5)
        gain = client.vector(DEV, "CCD_GAIN")
        assert gain.state == "Ok" and gain["GAIN"] == "50" and gain.number("GAIN") == 50.0
        assert gain.message == "gain set"
        assert (gain.elements["GAIN"].min, gain.elements["GAIN"].max, gain.elements["GAIN"].step) == (0, 200, 10)
        coord = client.vector(DEV, "COORD")
        assert coord.number("RA") == 6.5 and coord.number("DEC") == pytest.approx(-12.51)
        assert client.value(DEV, "NOTES", "TEXT") == 'a < b & "c" \u00e9t\u00e9'
        assert client.vector(DEV, "CCD1").kind == "BLOB"
        assert client.vector(DEV, "NOT_DEFINED") is None
        assert client.devices() == ["Fake CCD", "Other Device"]
        assert client.value("Other Device", "INFO", "NAME") == "other"
        server.send(b'<delProperty device="Other Device"/>\n')
        client.wait_for(lambda: client.devices() == [DEV], "Other Device to be deleted", 5)
        assert client.connected
    finally:
        client.close()


def test_light_vector_values_are_states(server):
    client = connected_client(server)
    try:
        server.send(vector_xml("defLightVector", "STATUS", {"READY": "Ok", "FAULT": "Alert"}))
        vec = client.wait_defined(DEV, "STATUS", 5)
        assert vec.kind == "Light" and vec.values == {"READY": "Ok", "FAULT": "Alert"}
    finally:
        client.close()


def test_blob_split_across_many_small_chunks_is_decoded_then_eof_is_seen(server):
    data = os.urandom(150_000) + bytes(range(256)) * 4  # every byte value
    client = connected_client(server)
    try:
        server.send(vector_xml("defBLOBVector", "CCD1", {"CCD1": ""}))
        client.wait_defined(DEV, "CCD1", 5)
        payload = blob_xml(data, line=76)  # line breaks inside the base64, like some servers send
        server.send(payload[:50], chunk=1)  # the opening tags byte by byte
        server.send(payload[50:], chunk=1021, pause=0.0005)  # ~200 reads; groups of 4 cross the boundaries
        server.close_client()  # EOF right behind the BLOB
        blob = client.wait_blob(10, DEV, "CCD1")
        assert blob.data == data and len(blob) == len(data)
        assert blob.format == ".fits" and blob.size == len(data) and blob.name == "CCD1" and blob.state == "Ok"
        assert blob.timestamp.tzinfo is not None
        assert client.vector(DEV, "CCD1").elements["CCD1"].size == len(data)
        client.wait_for(lambda: not client.connected, "the EOF", 2)
        with pytest.raises(CameraDisconnected, match="EOF"):
            client.wait_blob(5)
    finally:
        client.close()


def test_compressed_and_bad_blobs(server, caplog):
    data = b"SIMPLE  =                    T" + bytes(5000)
    client = connected_client(server)
    try:
        server.send(blob_xml(zlib.compress(data), fmt=".fits.z", size=len(data)))
        blob = client.wait_blob(5)
        assert blob.format == ".fits" and blob.data == data
        with caplog.at_level(logging.WARNING, logger="skyfleet.capture.indi_wire"):
            server.send(blob_xml(b"", name="CCD1"))  # empty: a driver clearing the BLOB, not a frame
            server.send(blob_xml(b"abc", size=10))  # declared size wrong: delivered, with a warning
            blob = client.wait_blob(5)
        assert blob.data == b"abc"
        assert "declared 10" in caplog.text
        assert client.take_blob() is None
    finally:
        client.close()


def test_blob_queue_is_bounded(server, caplog):
    client = connected_client(server, max_blobs=2)
    try:
        for i in range(4):
            server.send(blob_xml(bytes([i]) * 10))
        server.send(vector_xml("defTextVector", "MARK", {"T": "x"}))
        client.wait_defined(DEV, "MARK", 5)
        assert [client.take_blob().data[0] for _ in range(2)] == [2, 3]
        assert client.take_blob() is None and client.dropped_blobs == 2
        assert "BLOB queue full" in caplog.text
    finally:
        client.close()


# --------------------------------------------------------------------------- waits
def test_wait_state_follows_busy_to_ok_and_reports_alert_and_timeout(server):
    def driver(srv: FakeIndiServer, elem: ET.Element) -> None:
        if elem.tag == "newNumberVector" and elem.get("name") == "CCD_TEMPERATURE":
            value = elem.find("oneNumber").text
            srv.send(vector_xml("setNumberVector", "CCD_TEMPERATURE", {"CCD_TEMPERATURE_VALUE": "20"}, state="Busy"))
            time.sleep(0.5)
            if float(value) < -50:
                srv.send(vector_xml("setNumberVector", "CCD_TEMPERATURE", {"CCD_TEMPERATURE_VALUE": "20"},
                                    state="Alert", message="[ERROR] too cold"))
            else:
                srv.send(vector_xml("setNumberVector", "CCD_TEMPERATURE", {"CCD_TEMPERATURE_VALUE": value},
                                    state="Ok"))

    server.responder = driver
    client = connected_client(server)
    try:
        server.send(vector_xml("defNumberVector", "CCD_TEMPERATURE", {"CCD_TEMPERATURE_VALUE": "20"}, state="Alert"))
        client.wait_defined(DEV, "CCD_TEMPERATURE", 5)
        started = time.monotonic()
        since = client.send_number(DEV, "CCD_TEMPERATURE", {"CCD_TEMPERATURE_VALUE": -10})
        # the Alert from before the command does not count; Busy is waited out
        vec = client.wait_state(DEV, "CCD_TEMPERATURE", 5, since=since,
                                check=lambda v: v.number("CCD_TEMPERATURE_VALUE") == -10)
        assert vec.state == "Ok" and time.monotonic() - started > 0.45  # Busy was waited out
        since = client.send_number(DEV, "CCD_TEMPERATURE", {"CCD_TEMPERATURE_VALUE": -80})
        with pytest.raises(CameraError, match=r"CCD_TEMPERATURE went to Alert.*too cold"):
            client.wait_state(DEV, "CCD_TEMPERATURE", 5, since=since)
        since = client.send_number(DEV, "CCD_TEMPERATURE", {"CCD_TEMPERATURE_VALUE": -5})
        with pytest.raises(CameraTimeout, match=r"timed out after 0\.2s waiting for .*CCD_TEMPERATURE.*now Busy"):
            client.wait_state(DEV, "CCD_TEMPERATURE", 0.2, since=since)
        with pytest.raises(CameraTimeout, match=r"timed out after 0\.2s waiting for Fake CCD\.NOPE to be defined"):
            client.wait_defined(DEV, "NOPE", 0.2)
        with pytest.raises(CameraTimeout, match=r"waiting for a BLOB from Fake CCD\.CCD1"):
            client.wait_blob(0.2, DEV, "CCD1")
        cancel = threading.Event()
        threading.Timer(0.2, cancel.set).start()
        started = time.monotonic()
        with pytest.raises(ExposureCancelled, match="cancelled while waiting for Fake CCD.NOPE"):
            client.wait_defined(DEV, "NOPE", 120, cancel=cancel)
        assert time.monotonic() - started < 30  # the cancel, not the 120 s limit, ended the wait
    finally:
        client.close()


def test_eof_wakes_every_waiter_at_once(server):
    client = connected_client(server)
    errors: List[BaseException] = []

    def waiter() -> None:
        try:
            client.wait_blob(120)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=waiter) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.2)  # let the waiters start waiting (on a slow box some may not: they fail the same way)
        closed_at = time.monotonic()
        server.close_client()
        with pytest.raises(CameraDisconnected, match=r"lost \(EOF.*while waiting for Fake CCD\.X to be defined"):
            client.wait_defined(DEV, "X", 120)
        assert time.monotonic() - closed_at < 30  # EOF, not the 120 s limit, ended the wait
        for t in threads:
            t.join(30)
        assert len(errors) == 3 and all(isinstance(e, CameraDisconnected) for e in errors)
        assert not client.connected and "EOF" in client.disconnect_reason
        with pytest.raises(CameraDisconnected, match="not connected"):
            client.send_switch(DEV, "CONNECTION", {"CONNECT": True})
    finally:
        client.close()
    assert not any(t.name == client.name for t in threading.enumerate())


def test_invalid_xml_ends_the_connection(server):
    client = connected_client(server)
    try:
        server.send(b'<defTextVector device="x" name="y"><defText name="a">1</defTextVector>\n')
        client.wait_for(lambda: not client.connected, "the parse error", 5)
        assert "invalid XML" in client.disconnect_reason
    finally:
        client.close()


def test_refused_connection_is_reported_at_once():
    started = time.monotonic()
    with pytest.raises(CameraDisconnected, match="cannot connect to indiserver 127.0.0.1"):
        IndiClient("127.0.0.1", free_port(), timeout=60).connect()
    assert time.monotonic() - started < 30  # refused at once, not after the 60 s timeout


def test_close_stops_the_reader_thread(server):
    client = connected_client(server)
    assert any(t.name == client.name for t in threading.enumerate())
    client.close()
    client.close()
    assert not client.connected and client.disconnect_reason == "closed by the client"
    assert not any(t.name == client.name for t in threading.enumerate())
    assert server.client_closed.wait(2)
