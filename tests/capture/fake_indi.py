"""A tiny fake INDI server on 127.0.0.1 and a fake CCD driver for it (no indiserver needed)."""
from __future__ import annotations

import base64
import os
import socket
import threading
import time
import xml.etree.ElementTree as ET
from typing import Callable, Dict, List, Optional

from skyfleet.capture.indi_connection import IndiClient

DEV = "Fake CCD"


class FakeIndiServer:
    """Accepts one client; records (and optionally answers) its commands; sends whatever the test says."""

    def __init__(self, responder: Optional[Callable[[FakeIndiServer, ET.Element], None]] = None) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(10)
        self.port = self.listener.getsockname()[1]
        self.responder = responder
        self.conn: Optional[socket.socket] = None
        self.raw = bytearray()
        self.commands: List[ET.Element] = []
        self.client_closed = threading.Event()
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name=f"fake-indi-{self.port}", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._cond:
            self.conn = conn
            self._cond.notify_all()
        parser = ET.XMLPullParser(events=("start", "end"))
        parser.feed(b"<stream>")
        depth = 0
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                parser.feed(data)
                with self._cond:
                    self.raw += data
                for event, elem in parser.read_events():
                    depth += 1 if event == "start" else -1
                    if event == "end" and depth == 1:
                        with self._cond:
                            self.commands.append(elem)
                            self._cond.notify_all()
                        if self.responder is not None:
                            self.responder(self, elem)
        except OSError:
            pass
        finally:
            self.client_closed.set()

    def wait_client(self, timeout: float = 5.0) -> socket.socket:
        with self._cond:
            assert self._cond.wait_for(lambda: self.conn is not None, timeout), "no client connected"
            return self.conn

    def send(self, data, chunk: Optional[int] = None, pause: float = 0.0) -> None:
        conn = self.wait_client()
        data = data.encode() if isinstance(data, str) else data
        step = chunk or len(data) or 1
        with self._send_lock:
            for i in range(0, len(data), step):
                conn.sendall(data[i:i + step])
                if pause:
                    time.sleep(pause)

    def wait_command(self, tag: str, name: Optional[str] = None, timeout: float = 5.0, n: int = 1) -> ET.Element:
        def found() -> List[ET.Element]:
            return [c for c in self.commands if c.tag == tag and (name is None or c.get("name") == name)]

        with self._cond:
            assert self._cond.wait_for(lambda: len(found()) >= n, timeout), \
                f"no <{tag} name={name}> from the client; got {[(c.tag, c.get('name')) for c in self.commands]}"
            return found()[n - 1]

    def close_client(self) -> None:
        conn = self.wait_client()
        conn.shutdown(socket.SHUT_RDWR)
        conn.close()

    def close(self) -> None:
        self.listener.close()
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
        self._thread.join(5)


def vector_xml(tag: str, name: str, elements: Dict[str, object], device: str = DEV, state: str = "Idle",
               attrs: Optional[Dict[str, Dict[str, str]]] = None, **vector_attrs: str) -> bytes:
    """A def*/set* vector the way indiserver writes it (values on their own indented lines)."""
    kind = tag[3:-6]
    vec = ET.Element(tag, {"device": device, "name": name, "state": state, **vector_attrs})
    for element, value in elements.items():
        child = ET.SubElement(vec, ("def" if tag.startswith("def") else "one") + kind,
                              {"name": element, **(attrs or {}).get(element, {})})
        child.text = f"\n{value}\n    "
    return ET.tostring(vec) + b"\n"


def blob_xml(data: bytes, fmt: str = ".fits", device: str = DEV, name: str = "CCD1", line: int = 0,
             size: Optional[int] = None, state: str = "Ok") -> bytes:
    text = base64.b64encode(data).decode()
    if line:
        text = "\n".join(text[i:i + line] for i in range(0, len(text), line))
    vec = ET.Element("setBLOBVector", {"device": device, "name": name, "state": state})
    one = ET.SubElement(vec, "oneBLOB", {"name": name, "size": str(len(data) if size is None else size),
                                         "format": fmt, "enclen": str(len(text))})
    one.text = f"\n{text}\n    "
    return ET.tostring(vec) + b"\n"


def message_xml(device: str, text: str) -> bytes:
    return ET.tostring(ET.Element("message", {"device": device, "timestamp": "2026-01-01T00:00:00",
                                              "message": text})) + b"\n"


def connected_client(server: FakeIndiServer, **kw) -> IndiClient:
    client = IndiClient("127.0.0.1", server.port, **kw).connect()
    server.wait_client()
    return client


class FakeCcd:
    """Just enough of indi_simulator_ccd: CONNECTION defines the CCD properties; new* are echoed as Ok;
    CCD_EXPOSURE answers according to ``mode`` (ok / alert / silent / die / refuse_all).

    ``exposure_range`` is what CCD_EXPOSURE announces (None: min = max = 0, as drivers that announce
    nothing send); ``refuse_below`` makes it refuse shorter exposures the way INDI's CCD base class does
    (a message naming the bounds, then an Alert).  ``requests`` lists every exposure asked for."""

    def __init__(self, device: str, mode: str = "ok", frame: bytes = b"", burst_pause: float = 0.0,
                 legacy: bool = False, exposure_range: Optional[tuple] = (0.001, 3600),
                 refuse_below: Optional[float] = None) -> None:
        self.device = device
        self.exposure_range = exposure_range
        self.refuse_below = refuse_below
        self.requests: List[float] = []
        self.legacy = legacy  # INDI 1.8 (Debian 11) names the compression switches CCD_COMPRESS / CCD_RAW
        self.mode = mode
        self.burst_pause = burst_pause  # between CCD1 and the rest of the definitions after CONNECT
        self.frame = frame or (b"SIMPLE  =                    T" + os.urandom(40_000))

    def vec(self, tag: str, name: str, elements: Dict[str, object], **kw) -> bytes:
        return vector_xml(tag, name, elements, device=self.device, **kw)

    def __call__(self, srv: FakeIndiServer, elem: ET.Element) -> None:
        name = elem.get("name")
        if elem.tag == "getProperties" and name == "CCD1":
            srv.send(self.vec("defBLOBVector", "CCD1", {"CCD1": ""}))
        elif elem.tag == "getProperties":
            srv.send(self.vec("defSwitchVector", "CONNECTION", {"CONNECT": "Off", "DISCONNECT": "On"},
                              rule="OneOfMany"))
        elif elem.tag == "newSwitchVector" and name == "CONNECTION":
            srv.send(self.vec("setSwitchVector", "CONNECTION", {"CONNECT": "On", "DISCONNECT": "Off"}, state="Ok"))
            low, high = self.exposure_range or (0, 0)
            srv.send(self.vec("defNumberVector", "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": "1"},
                              attrs={"CCD_EXPOSURE_VALUE": {"min": str(low), "max": str(high)}}) +
                     self.vec("defBLOBVector", "CCD1", {"CCD1": ""}))
            time.sleep(self.burst_pause)  # the client sees CCD_EXPOSURE and CCD1 before the rest
            srv.send(b"".join([
                self.vec("defSwitchVector", "CCD_ABORT_EXPOSURE", {"ABORT": "Off"}, rule="AtMostOne"),
                self.vec("defSwitchVector", "UPLOAD_MODE", {"UPLOAD_CLIENT": "Off", "UPLOAD_LOCAL": "On",
                                                            "UPLOAD_BOTH": "Off"}, rule="OneOfMany"),
                self.vec("defSwitchVector", "CCD_TRANSFER_FORMAT", {"FORMAT_FITS": "Off", "FORMAT_NATIVE": "On"},
                         rule="OneOfMany"),
                self.vec("defSwitchVector", "CCD_COMPRESSION",
                         {"CCD_COMPRESS": "On", "CCD_RAW": "Off"} if self.legacy else
                         {"INDI_ENABLED": "On", "INDI_DISABLED": "Off"}, rule="OneOfMany"),
                self.vec("defNumberVector", "CCD_GAIN", {"GAIN": "90"}, attrs={"GAIN": {"min": "0", "max": "100"}}),
                self.vec("defNumberVector", "CCD_BINNING", {"HOR_BIN": "1", "VER_BIN": "1"},
                         attrs={"HOR_BIN": {"min": "1", "max": "4"}, "VER_BIN": {"min": "1", "max": "4"}}),
                self.vec("defNumberVector", "CCD_INFO", {"CCD_MAX_X": "640", "CCD_MAX_Y": "480",
                                                         "CCD_PIXEL_SIZE": "5.2", "CCD_BITSPERPIXEL": "16"}),
                self.vec("defNumberVector", "CCD_TEMPERATURE", {"CCD_TEMPERATURE_VALUE": "-5.5"}),
            ]))
        elif elem.tag == "newNumberVector" and name == "CCD_EXPOSURE":
            seconds = float(elem.find("oneNumber").text)
            self.requests.append(seconds)
            if self.refuse_below is not None and seconds < self.refuse_below:
                high = self.exposure_range[1] if self.exposure_range else 3600
                srv.send(message_xml(self.device, f"[ERROR] Requested exposure value ({seconds:g}) seconds out of "
                                                  f"bounds [{self.refuse_below:g},{high:g}].") +
                         self.vec("setNumberVector", "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": "1"}, state="Alert"))
                return
            if self.mode == "refuse_all":
                srv.send(self.vec("setNumberVector", "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": "1"}, state="Alert"))
                return
            srv.send(self.vec("setNumberVector", "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": seconds}, state="Busy"))
            threading.Thread(target=self.finish, args=(srv, seconds), daemon=True).start()
        elif elem.tag in ("newNumberVector", "newSwitchVector") and name != "CCD_ABORT_EXPOSURE":
            kind = elem.tag[3:-6]
            srv.send(self.vec(f"set{kind}Vector", name, {c.get("name"): c.text for c in elem}, state="Ok"))

    def finish(self, srv: FakeIndiServer, seconds: float) -> None:
        time.sleep(seconds)
        if self.mode == "ok":
            srv.send(blob_xml(self.frame, device=self.device), chunk=3000)
            srv.send(self.vec("setNumberVector", "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": "0"}, state="Ok"))
        elif self.mode == "alert":
            srv.send(self.vec("setNumberVector", "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": "0"}, state="Alert",
                              message="[ERROR] shutter stuck"))
        elif self.mode == "alert_after_message":  # INDI 1.8: the reason comes as a separate <message>
            srv.send(message_xml(self.device, "[ERROR] Telescope coordinates missing.") +
                     self.vec("setNumberVector", "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": "0"}, state="Alert"))
        elif self.mode == "die":
            srv.close_client()
