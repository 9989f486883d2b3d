from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import skyfleet.capture
from skyfleet.capture import service

from .indi_sim import CCD, DRIVERS

APP_DIR = Path(skyfleet.capture.__file__).resolve().parents[2]


def write_config(path: Path, data: Path, port: int, **capture) -> Path:
    values = dict(latitude=52.0, longitude=5.0, indi_host="127.0.0.1", indi_port=port, ccd_device=CCD,
                  drivers=DRIVERS, exposure_min_day=0.2, exposure_max_day=0.5, exposure_min_night=0.2,
                  exposure_max_night=0.5, period=0.5, daytime_capture=True, blob_margin=10.0,
                  camera_name="Service test")
    values.update(capture)

    def toml(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return f'"{v}"'
        if isinstance(v, list):
            return "[" + ", ".join(toml(x) for x in v) + "]"
        return repr(v)

    lines = [f'data_dir = "{data}"', "", "[capture]"] + [f"{k} = {toml(v)}" for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def image_rows(data: Path) -> list:
    db = data / "skyfleet.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT kind, filename, file_size FROM asset WHERE kind = 'image'").fetchall()


@pytest.mark.slow
def test_service_records_frames_and_stops_cleanly_on_sigterm(indi_sim, tmp_path):
    data = tmp_path / "data"
    config = write_config(tmp_path / "skyfleet.toml", data, indi_sim.port)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(APP_DIR), os.environ.get("PYTHONPATH")])))
    env["SKYFLEET_CONFIG"] = str(config)
    subprocess.run([str(Path(sys.executable).parent / "skyfleet"), "db", "upgrade"], env=env, check=True,
                   capture_output=True)
    proc = subprocess.Popen([sys.executable, "-m", "skyfleet.capture.service"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len(image_rows(data)) >= 2:
                break
            assert proc.poll() is None, f"service exited early:\n{proc.stderr.read()}"
            time.sleep(0.2)
        else:
            pytest.fail("no 2 images recorded within 60s")
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        rc = proc.wait(10)
        stopped_in = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read()
    assert rc == 0, stderr
    assert stopped_in < 5, f"took {stopped_in:.1f}s to stop"
    assert "received SIGTERM" in stderr
    storage = data / "images"
    for _kind, filename, size in image_rows(data):
        jpeg = (storage / filename).read_bytes()
        assert jpeg[:3] == b"\xff\xd8\xff" and len(jpeg) == size
    assert [p.name for p in (storage / ".staging").iterdir()] == []


def test_service_rejects_bad_config_with_exit_2(tmp_path, caplog):
    config = write_config(tmp_path / "bad.toml", tmp_path / "s", 7624, binning=0)
    assert service.main(["--config", str(config)]) == 2
    assert "capture.binning" in caplog.text


def test_service_needs_a_config(monkeypatch, caplog):
    monkeypatch.delenv("SKYFLEET_CONFIG", raising=False)
    assert service.main([]) == 2
    assert "SKYFLEET_CONFIG" in caplog.text


def test_service_without_a_database_says_what_to_run(tmp_path, caplog):
    config = write_config(tmp_path / "nodb.toml", tmp_path / "data", 7624)
    assert service.main(["--config", str(config)]) == 2
    assert "skyfleet db upgrade" in caplog.text
