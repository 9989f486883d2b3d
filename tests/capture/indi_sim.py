"""A real indiserver with the CCD and telescope simulators, for tests.

- own port and own local socket name (``-u``), so parallel servers on one host coexist;
- ``HOME`` in the test's tmp dir, so the drivers' config files stay out of the real home;
- a stand-in ``gsc`` star catalogue first on the server's PATH (the stock simulator draws
  no stars without it), and a telescope synced to DEC +20 with tracking off, so stars drift
  through the field (shared/docs/indi-recipe.md sections 4 and 10.1).

``indiserver`` missing is an error, not a skip: script/test installs ``indi-bin``.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional

CCD = "CCD Simulator"
SCOPE = "Telescope Simulator"
DRIVERS = ["indi_simulator_ccd", "indi_simulator_telescope"]

# Stand-in for the GSC catalogue tool that indi_simulator_ccd popen()s:
#   gsc -c RA_DEG DEC_DEG -r RADIUS_ARCMIN -m MAG_MIN MAG_MAX -n MAXSTARS
# Deterministic pseudo-random stars in the line format the driver sscanf()s.
FAKE_GSC = r'''#!{python}
import math, random, sys

DENSITY = 1500.0   # stars per square degree down to MAG_MAX
CELL = 0.25        # degrees


def arg(flag, n, default):
    if flag in sys.argv:
        i = sys.argv.index(flag)
        return [float(x) for x in sys.argv[i + 1:i + 1 + n]]
    return default


ra0, dec0 = arg("-c", 2, [0.0, 0.0])
radius = arg("-r", 1, [30.0])[0] / 60.0
mmin, mmax = arg("-m", 2, [0.0, 12.0])
nmax = int(arg("-n", 1, [3000])[0])


def sep(ra1, d1, ra2, d2):
    r = math.radians
    c = math.sin(r(d1)) * math.sin(r(d2)) + math.cos(r(d1)) * math.cos(r(d2)) * math.cos(r(ra1 - ra2))
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


out = []
nband = int(180 / CELL)
b_lo = max(0, int((dec0 - radius + 90) / CELL))
b_hi = min(nband - 1, int((dec0 + radius + 90) / CELL))
for b in range(b_lo, b_hi + 1):
    d1, d2 = b * CELL - 90, (b + 1) * CELL - 90
    nra = max(1, int(360 * math.cos(math.radians((d1 + d2) / 2)) / CELL))
    w = 360.0 / nra
    s1, s2 = math.sin(math.radians(d1)), math.sin(math.radians(d2))
    for k in range(nra):
        if sep((k + 0.5) * w, (d1 + d2) / 2, ra0, dec0) > radius + CELL * 1.5 and abs((d1 + d2) / 2) < 89:
            continue
        area = math.radians(w) * (s2 - s1) * (180 / math.pi) ** 2
        rng = random.Random(b * 100003 + k)
        for j in range(int(round(DENSITY * area))):
            ra = (k + rng.random()) * w
            dec = math.degrees(math.asin(s1 + rng.random() * (s2 - s1)))
            mag = 17.0 + math.log10(max(rng.random(), 1e-9)) / 0.4
            if not (mmin <= mag <= mmax):
                continue
            dist = sep(ra, dec, ra0, dec0)
            if dist <= radius:
                out.append((dist, ("F%04d%05d" % (b, j))[:10], ra, dec, mag))
out.sort()
for dist, sid, ra, dec, mag in out[:nmax]:
    print("%s %.6f %+.6f 0.2 %.2f 0.40 0 1 00AA 00 %.2f 0" % (sid, ra, dec, mag, dist * 60))
'''


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_indiserver() -> str:
    exe = shutil.which("indiserver")
    if not exe or not shutil.which("indi_simulator_ccd") or not shutil.which("indi_setprop"):
        raise RuntimeError("indiserver / indi_simulator_ccd / indi_setprop not found on PATH: "
                           "install Debian's indi-bin (script/test does `apt-get install -y indi-bin`)")
    return exe


def write_fake_gsc(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "gsc"
    path.write_text(FAKE_GSC.replace("{python}", sys.executable))
    path.chmod(0o755)
    return path


class IndiSim:
    """indiserver + simulators on 127.0.0.1:<port>; ``start()``, ``kill()``, ``stop()``."""

    def __init__(self, workdir: Path, port: Optional[int] = None, drivers: Optional[List[str]] = None,
                 stars: bool = True) -> None:
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.drivers = list(drivers or DRIVERS)
        self.stars = stars
        self.proc: Optional[subprocess.Popen] = None
        self.home = self.workdir / "home"
        self.gsc_dir = self.workdir / "fakegsc"
        self.log_path = self.workdir / f"indiserver-{self.port}.log"
        self.starts = 0

    # -------------------------------------------------------------- process
    def start(self, timeout: float = 10.0) -> IndiSim:
        exe = require_indiserver()
        write_fake_gsc(self.gsc_dir)
        self.home.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, HOME=str(self.home), PATH=f"{self.gsc_dir}{os.pathsep}{os.environ.get('PATH', '')}")
        self.starts += 1
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                [exe, "-v", "-p", str(self.port), "-u", f"skyfleet-test-indiserver-{self.port}", *self.drivers],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True)  # own process group: the drivers die with it at teardown
        finally:
            log.close()
        self._wait_listening(timeout)
        self._wait_property(f"{CCD}.CONNECTION.CONNECT", timeout)
        if self.stars:
            self.setup_star_field(timeout)
        return self

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"indiserver exited with {self.proc.returncode}; log:\n{self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"indiserver did not listen on port {self.port} within {timeout}s; "
                           f"log:\n{self.log_tail()}")

    def _wait_property(self, spec: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.getprop(spec)
            if value is not None:
                return value
            time.sleep(0.1)
        raise TimeoutError(f"{spec} not defined on port {self.port} within {timeout}s; log:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the indiserver process only (what a crash looks like to clients)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self) -> None:
        """Kill indiserver and its drivers (its process group)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass

    def restart(self, timeout: float = 10.0) -> IndiSim:
        self.stop()
        return self.start(timeout)

    def __enter__(self) -> IndiSim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    # -------------------------------------------------------------- INDI CLI
    def setprop(self, *specs: str, timeout: float = 5.0) -> None:
        cmd = ["indi_setprop", "-h", "127.0.0.1", "-p", str(self.port), "-t", "3", *specs]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {result.stderr.strip()}")

    def getprop(self, spec: str, timeout: float = 5.0) -> Optional[str]:
        """The value of one ``device.property.element`` (``_STATE`` for the state), or None."""
        cmd = ["indi_getprop", "-h", "127.0.0.1", "-p", str(self.port), "-t", "1", "-1", spec]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        out = result.stdout.strip()
        return out.splitlines()[0] if result.returncode == 0 and out else None

    def setup_star_field(self, timeout: float = 10.0) -> None:
        """Telescope at RA 6h / DEC +20 (SYNC: instant, unlike a 13 s slew from the pole), tracking off,
        and brighter simulated stars (SIM_SATURATION; recipe pitfall 1)."""
        self.setprop(f"{SCOPE}.CONNECTION.CONNECT=On")
        self._wait_value(f"{SCOPE}.CONNECTION.CONNECT", "On", timeout)
        self._wait_property(f"{SCOPE}.ON_COORD_SET.SYNC", timeout)
        self.setprop(f"{SCOPE}.ON_COORD_SET.SYNC=On")
        self._wait_value(f"{SCOPE}.ON_COORD_SET.SYNC", "On", timeout)
        self.setprop(f"{SCOPE}.EQUATORIAL_EOD_COORD.RA;DEC=6;20")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dec = self.getprop(f"{SCOPE}.EQUATORIAL_EOD_COORD.DEC")
            if dec is not None and abs(float(dec) - 20.0) < 0.1:
                break
            time.sleep(0.1)
        else:
            raise TimeoutError(f"telescope simulator did not sync to DEC +20 within {timeout}s")
        self.setprop(f"{SCOPE}.TELESCOPE_TRACK_STATE.TRACK_OFF=On")
        self._wait_value(f"{SCOPE}.TELESCOPE_TRACK_STATE.TRACK_OFF", "On", timeout)
        self.setprop(f"{CCD}.SIMULATOR_SETTINGS.SIM_SATURATION=8")

    def _wait_value(self, spec: str, want: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.getprop(spec)
            if value == want:
                return
            time.sleep(0.1)
        raise TimeoutError(f"{spec} is {value!r}, not {want!r}, after {timeout}s")
