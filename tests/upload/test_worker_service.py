"""`skyfleet-upload-worker N`: the upload worker daemon as a plain entry point (no Flask app)."""
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import metadata as mdh
from tests.helpers.waiting import wait_until
from tests.upload.conftest import remote_assets

SCRIPT = Path(sys.executable).parent / "skyfleet-upload-worker"


def env_for(config) -> dict:
    return {"PATH": "/usr/bin:/bin", "SKYFLEET_CONFIG": str(config), "LANG": "C.UTF-8"}


def test_entry_module_does_not_import_flask():
    code = ("import sys, skyfleet.upload.service; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'flask_sqlalchemy', 'werkzeug')))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


@pytest.mark.slow
def test_worker_drains_the_queue_without_flask_and_stops_on_sigterm(host, remote):
    for i in range(3):
        host.add("image", os.urandom(700), createDate=mdh.NIGHT_START + 60 * i)
    env = {**env_for(host.toml), "PYTHONPROFILEIMPORTTIME": "1"}
    proc = subprocess.Popen([str(SCRIPT), "7"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: host.waiting() == 0, 120), f"{host.waiting()} jobs still waiting"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    assert "received SIGTERM; stopping" in err and "stopped" in err
    imported = re.findall(r"^import time:.*\|\s*(\S+)$", err, flags=re.M)
    assert "skyfleet.upload.worker" in [m.strip() for m in imported]
    assert not [m for m in imported if m.strip().split(".")[0] in ("flask", "flask_sqlalchemy", "werkzeug")]
    assert len([a for a in remote_assets(remote) if a[1] == "image"]) == 3
    assert len([j for j in host.jobs("done") if j.asset_id]) == 3
    assert f"upload worker {socket.gethostname()}-7 started" in err


@pytest.mark.parametrize("settings, message", [
    ('data_dir = "{data}"\n', "no remote configured"),
    ('data_dir = "{data}"\n[[upload.remotes]]\nname = "r"\n', "upload.remotes[0]"),
    ('data_dir = "{data}"\nnot toml ===\n', "not valid TOML"),
])
def test_configuration_error_is_one_line_and_exit_2(tmp_path, settings, message):
    config = tmp_path / "skyfleet.toml"
    config.write_text(settings.format(data=tmp_path / "data"))
    res = subprocess.run([str(SCRIPT), "1"], capture_output=True, text=True, env=env_for(config), timeout=60)
    assert res.returncode == 2
    assert res.stderr.startswith("skyfleet-upload-worker: configuration error:") and message in res.stderr
    assert "Traceback" not in res.stderr


def test_config_option_overrides_the_environment(tmp_path):
    config = tmp_path / "other.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    res = subprocess.run([str(SCRIPT), "--config", str(config)], capture_output=True, text=True,
                         env=env_for(tmp_path / "missing.toml"), timeout=60)
    assert res.returncode == 2 and "no remote configured" in res.stderr
