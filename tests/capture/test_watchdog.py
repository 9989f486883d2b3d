from __future__ import annotations

import subprocess
import threading
import time

import pytest

from skyfleet.capture.indi_client import IndiCamera
from skyfleet.capture.loop import CaptureLoop
from skyfleet.capture.settings import CaptureSettings
from skyfleet.capture.watchdog import CameraWatchdog, CaptureStopped

from .fakes import FakeCamera
from .indi_sim import CCD


def make_watchdog(script, log, **kw):
    cameras = []

    def factory():
        cam = FakeCamera(log, script=script)
        cameras.append(cam)
        return cam

    return CameraWatchdog(factory, backoff_initial=0.01, backoff_max=0.04, **kw), cameras


def test_refused_connects_are_retried_with_capped_backoff(caplog):
    log = []
    watchdog, cameras = make_watchdog(["refuse"] * 4, log)
    watchdog.set_gain(77)
    with caplog.at_level("WARNING"):
        frame = watchdog.expose(0.5)
    assert frame.exposure == 0.5
    assert len(cameras) == 5 and log.count("refused") == 4
    attempts = [r.getMessage() for r in caplog.records if "connect attempt" in r.getMessage()]
    delays = [m.rsplit("retrying in ", 1)[1] for m in attempts]
    assert delays == ["0.01s", "0.02s", "0.04s", "0.04s"]  # doubling, capped at backoff_max


def test_failed_exposure_reconnects_and_reapplies_settings():
    log = []
    watchdog, cameras = make_watchdog([], log)
    watchdog.set_gain(33)
    watchdog.set_binning(2)
    watchdog.expose(1.0)
    cameras[0].script.extend(["timeout", "eof"])
    frame = watchdog.expose(1.0)
    assert frame.gain == 33 and frame.binning == 2
    assert len(cameras) == 3  # a fresh client after each failure
    assert log.count("connect gain=33 binning=2") == 3
    assert "abort" in log  # the timeout aborted the exposure on the old client
    assert watchdog.connects == 3 and watchdog.failures == 2
    assert watchdog.last_recovery_seconds is not None


def test_stop_interrupts_the_backoff():
    log = []
    stop = threading.Event()
    watchdog = CameraWatchdog(lambda: FakeCamera(log, script=["refuse"] * 1000), stop_event=stop,
                              backoff_initial=120, backoff_max=120)
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    with pytest.raises(CaptureStopped):
        watchdog.expose(1.0)
    assert time.monotonic() - started < 60  # the stop, not the 120 s backoff


@pytest.mark.slow
def test_loop_survives_indiserver_kill_and_restart(own_indi_sim, caplog):
    """kill -9 the server during an exposure, restart it on the same port: the same loop keeps delivering."""
    # 1 s exposures back to back (period < exposure), so the kill lands inside an exposure
    settings = CaptureSettings(
        latitude=52.0, longitude=5.0, indi_port=own_indi_sim.port, ccd_device=CCD,
        exposure_min_day=1.0, exposure_max_day=1.0, exposure_min_night=1.0, exposure_max_night=1.0,
        period=0.5, blob_margin=5.0, connect_timeout=5.0,
        reconnect_backoff_initial=0.2, reconnect_backoff_max=1.0)
    frames = []
    got = threading.Condition()

    def on_frame(frame, context):
        with got:
            frames.append((time.monotonic(), frame, context))
            got.notify_all()

    def wait_frames(n, timeout):
        with got:
            assert got.wait_for(lambda: len(frames) >= n, timeout), f"only {len(frames)} frames, wanted {n}"

    caplog.set_level("INFO", logger="skyfleet.capture")
    loop = CaptureLoop(settings, on_frame=on_frame)
    runner = threading.Thread(target=loop.run, name="capture", daemon=True)
    runner.start()
    try:
        wait_frames(2, 30)
        before = len(frames)
        wait_exposure_busy(own_indi_sim.port)  # kill inside an exposure, whatever the machine's load
        killed_at = time.monotonic()
        own_indi_sim.kill()
        time.sleep(1.0)
        own_indi_sim.start()
        wait_frames(before + 3, 90)
        first_after = next(t for t, _, _ in frames if t > killed_at)
        print(f"recovery: first frame {first_after - killed_at:.1f}s after kill -9 "
              f"(server down ~1s), watchdog {loop.watchdog.last_recovery_seconds}")
        assert runner.is_alive()
        assert loop.watchdog.connects >= 2
        assert "lost during a 1s exposure" in caplog.text  # EOF noticed mid-exposure, not by a timeout
        assert [c.index for _, _, c in frames] == list(range(len(frames)))
    finally:
        loop.stop()
        runner.join(10)
    assert not runner.is_alive(), "capture loop did not stop within 10s"
    leaked = [t.name for t in threading.enumerate() if t.name == f"indi-127.0.0.1:{own_indi_sim.port}"]
    assert leaked == [], "INDI client event-loop threads left running"


def wait_exposure_busy(port: int, timeout: float = 20.0) -> None:
    """Poll the simulator (with INDI's own CLI, not our client) until an exposure is running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        res = subprocess.run(["indi_getprop", "-p", str(port), "-t", "2", "-1", f"{CCD}.CCD_EXPOSURE._STATE"],
                             capture_output=True, text=True, timeout=10)
        if res.stdout.strip() == "Busy":
            return
        time.sleep(0.05)
    raise AssertionError("no exposure became Busy")


@pytest.mark.slow
def test_stop_interrupts_a_slow_connect(own_indi_sim):
    """The server answers but the device never appears: stop() must not wait for connect_timeout."""
    settings = CaptureSettings(latitude=52.0, longitude=5.0, indi_port=own_indi_sim.port,
                               ccd_device="Camera That Never Appears", connect_timeout=60.0, period=1.0)
    connecting = threading.Event()

    def camera_factory(s):
        connecting.set()  # the watchdog calls connect() on it right away
        return IndiCamera.from_settings(s)

    loop = CaptureLoop(settings, camera_factory, on_frame=lambda f, c: None)
    runner = threading.Thread(target=loop.run, daemon=True)
    runner.start()
    assert connecting.wait(60)
    time.sleep(0.5)  # well inside the 60 s connect
    started = time.monotonic()
    loop.stop()
    runner.join(60)
    assert not runner.is_alive()
    assert time.monotonic() - started < 30  # the stop, not the 60 s connect timeout
    assert loop.frames == 0
