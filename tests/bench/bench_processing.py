#!/usr/bin/env python3
"""Benchmark: skyfleet.imaging vs the bare OpenCV/numpy/ffmpeg operations, same run.

    PYTHONPATH=app python tests/bench/bench_processing.py [--quick]

Part 1, per frame, synthetic FITS files (1280x1024 mono, 3008x3008 RGGB):
    ours = process_frame() with default settings (stretch, measurements, overlay, JPEG q90 + 320 px
           thumbnail, atomic writes with fsync); also against itself with measure=False (the cost of
           counting stars, the pseudo-SQM and line detection);
    bare = astropy read, cv2.cvtColor, median/MAD on a 1/4 subsample (np.median, as any
           auto-stretch needs), lut[img], cv2.imencode + plain file write, cv2.resize INTER_AREA
           + imencode + write.  "LUT given" is the same with the LUT computed beforehand.
    Median of several interleaved runs.
Part 2 (run first), a 1000-frame 1280x1024 BGR timelapse: our TimelapseWriter vs bare ffmpeg fed the same
raw frames with the same encoder options; each in its own child process so that peak RSS
(getrusage) belongs to that build alone.

Not collected by pytest (file name does not start with test_).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
APP = os.path.join(os.path.dirname(os.path.dirname(HERE)), "app")
if APP not in sys.path:
    sys.path.insert(0, APP)

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from astropy.io import fits  # noqa: E402

from skyfleet.imaging.pipeline import ProcessingSettings, process_frame  # noqa: E402
from skyfleet.imaging.timelapse import TimelapseWriter, find_ffmpeg  # noqa: E402

WHEN = datetime(2026, 11, 30, 21, 4, 5, tzinfo=timezone(timedelta(hours=1)))
META = {"exposure": 30.0, "gain": 90, "temperature": -10.0}
N_DISTINCT = 20          # distinct synthetic video frames, cycled


# --------------------------------------------------------------------------- synthetic data
def star_field(h: int, w: int, seed: int, bayer: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.normal(1500, 60, (h, w)).astype(np.float32)
    n = (h * w) // 4000
    ys, xs = rng.integers(3, h - 3, n), rng.integers(3, w - 3, n)
    amp = rng.uniform(2000, 40000, n).astype(np.float32)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            img[ys + dy, xs + dx] += amp * (0.35 if dy or dx else 1.0)
    if bayer:   # red-ish sky: scale the R and B sites of an RGGB mosaic differently
        img[0::2, 0::2] *= 1.3
        img[1::2, 1::2] *= 0.8
    return np.clip(img, 0, 65535).astype(np.uint16)


def write_fits(path: str, data: np.ndarray, bayer: bool) -> None:
    hdr = fits.Header()
    hdr["EXPTIME"] = 30.0
    hdr["GAIN"] = 90
    hdr["CCD-TEMP"] = -10.0
    if bayer:
        hdr["BAYERPAT"] = "RGGB"
        hdr["XBAYROFF"] = 0
        hdr["YBAYROFF"] = 0
    fits.PrimaryHDU(data=data, header=hdr).writeto(path, overwrite=True)


# --------------------------------------------------------------------------- part 1
def bare_lut(img: np.ndarray) -> np.ndarray:
    """The recipe's auto-stretch LUT: median/MAD of a 1/4 subsample with np.median."""
    view = img[::4, ::4].astype(np.float32) / 65535.0
    med = float(np.median(view))
    mad = float(np.median(np.abs(view - med))) * 1.4826
    c0 = max(med - 2.8 * mad, 0.0)
    x = (med - c0) / (1 - c0)
    m = ((0.25 - 1) * x) / ((2 * 0.25 - 1) * x - 0.25)
    v = np.clip((np.linspace(0, 1, 65536) - c0) / (1 - c0), 0, 1)
    return (np.clip(((m - 1) * v) / ((2 * m - 1) * v - m), 0, 1) * 255 + 0.5).astype(np.uint8)


def bare_frame(path: str, out_dir: str, bayer: bool, lut=None) -> None:
    with fits.open(path, memmap=False) as hdul:
        raw = hdul[0].data
    img = cv2.cvtColor(raw, cv2.COLOR_BayerBG2BGR) if bayer else raw
    if lut is None:
        lut = bare_lut(img)
    img8 = lut[img]
    ok, buf = cv2.imencode(".jpg", img8, [cv2.IMWRITE_JPEG_QUALITY, 90])
    with open(os.path.join(out_dir, "bare.jpg"), "wb") as f:
        f.write(buf)
    h, w = img8.shape[:2]
    thumb = cv2.resize(img8, (320, round(h * 320 / w)), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", thumb, [cv2.IMWRITE_JPEG_QUALITY, 90])
    with open(os.path.join(out_dir, "bare_thumb.jpg"), "wb") as f:
        f.write(buf)


def bench_frames(label: str, h: int, w: int, bayer: bool, runs: int, work: str) -> dict:
    paths = []
    for i in range(runs):
        p = os.path.join(work, f"{label}_{i}.fits")
        write_fits(p, star_field(h, w, seed=i, bayer=bayer), bayer)
        paths.append(p)
    out = os.path.join(work, "out_" + label)
    os.makedirs(out, exist_ok=True)
    settings = ProcessingSettings(out_dir=out)
    unmeasured = ProcessingSettings(out_dir=out, measure=False)  # the pipeline before stars/SQM/lines
    # warm-up (imports, allocator, page cache)
    process_frame(paths[0], settings, WHEN, META, basename="warm")
    bare_frame(paths[0], out, bayer)
    luts = []
    for p in paths:                         # for the "LUT given" variant, computed untimed
        raw, _ = fits.getdata(p, header=True)
        luts.append(bare_lut(cv2.cvtColor(raw, cv2.COLOR_BayerBG2BGR) if bayer else raw))
    t_ours, t_unmeasured, t_bare, t_bare_nostats, steps = [], [], [], [], []
    previous = None
    for i, p in enumerate(paths):           # interleaved so drift hits both alike
        t = time.perf_counter()
        res = process_frame(p, settings, WHEN, META, basename=f"f{i}", previous=previous)
        t_ours.append(time.perf_counter() - t)
        steps.append(res.timings)
        previous = res.measure_copy
        t = time.perf_counter()
        process_frame(p, unmeasured, WHEN, META, basename=f"u{i}")
        t_unmeasured.append(time.perf_counter() - t)
        t = time.perf_counter()
        bare_frame(p, out, bayer)
        t_bare.append(time.perf_counter() - t)
        t = time.perf_counter()
        bare_frame(p, out, bayer, lut=luts[i])
        t_bare_nostats.append(time.perf_counter() - t)
    med = statistics.median
    return {
        "label": label, "runs": runs,
        "ours_ms": med(t_ours) * 1000, "bare_ms": med(t_bare) * 1000,
        "unmeasured_ms": med(t_unmeasured) * 1000, "stars": res.measurements.stars,
        "bare_nostats_ms": med(t_bare_nostats) * 1000,
        "steps_ms": {k: round(med([s.get(k, 0.0) for s in steps]) * 1000, 1) for k in steps[0]},
    }


# --------------------------------------------------------------------------- part 2
def video_frames(n_distinct: int, h: int, w: int) -> list:
    rng = np.random.default_rng(7)
    base = np.clip(rng.normal(40, 6, (h, w)), 0, 255).astype(np.uint8)
    stars = [(int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(120, 256)))
             for _ in range(400)]
    frames = []
    for i in range(n_distinct):
        g = base.copy()
        for x, y, b in stars:
            cv2.circle(g, ((x + 3 * i) % w, y), 2, b, -1)
        frames.append(cv2.merge([g, g, np.clip(g.astype(np.int16) + 8, 0, 255).astype(np.uint8)]))
    return frames


def proc_status_mb(key: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process from /proc: unlike getrusage's ru_maxrss,
    VmHWM is not inherited from the parent across fork+exec."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


class HwmSampler(threading.Thread):
    """Polls VmHWM of a child process (ffmpeg) every 0.1 s.  getrusage(RUSAGE_CHILDREN) is no
    good for ffmpeg: Linux carries the spawning process's peak RSS over into the child's
    ru_maxrss at exec."""

    def __init__(self, get_pid):
        super().__init__(daemon=True)
        self.get_pid, self.peak_mb, self.stop = get_pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            pid = self.get_pid()
            if pid:
                try:
                    with open(f"/proc/{pid}/status") as f:
                        for line in f:
                            if line.startswith("VmHWM:"):
                                self.peak_mb = max(self.peak_mb, int(line.split()[1]) / 1024.0)
                except OSError:
                    pass
            self.stop.wait(0.1)


def timelapse_child(mode: str, n: int, h: int, w: int, out: str) -> None:
    frames = video_frames(N_DISTINCT, h, w)
    rss_samples = {}
    holder = {}
    sampler = HwmSampler(lambda: holder["proc"].pid if "proc" in holder else None)
    sampler.start()
    t = time.perf_counter()
    if mode == "ours":
        with TimelapseWriter(out, fps=25, crf=23, preset="veryfast", max_width=1920) as tl:
            holder["proc"] = tl
            for i in range(n):
                tl.add(frames[i % len(frames)])
                if i + 1 in (100, n):
                    rss_samples[i + 1] = round(proc_status_mb("VmRSS"), 1)
    else:
        cmd = [find_ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}", "-framerate", "25",
               "-i", "pipe:0", "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
               "-pix_fmt", "yuv420p", "-movflags", "+faststart", out]
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE)
        holder["proc"] = p
        for i in range(n):
            p.stdin.write(frames[i % len(frames)].tobytes())
        p.stdin.close()
        if p.wait() != 0:
            raise SystemExit("bare ffmpeg failed")
    elapsed = time.perf_counter() - t
    sampler.stop.set()
    sampler.join()
    ru_self = resource.getrusage(resource.RUSAGE_SELF)
    ru_kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"mode": mode, "elapsed": elapsed, "frames": n,
                      "self_hwm_mb": proc_status_mb("VmHWM"),
                      "self_maxrss_mb": ru_self.ru_maxrss / 1024.0,
                      "ffmpeg_hwm_mb": sampler.peak_mb,
                      "ffmpeg_maxrss_mb": ru_kids.ru_maxrss / 1024.0,
                      "rss_samples_mb": rss_samples, "bytes": os.path.getsize(out)}))


def run_child(mode: str, n: int, h: int, w: int, work: str) -> dict:
    out = os.path.join(work, f"tl_{mode}.mp4")
    cmd = [sys.executable, os.path.abspath(__file__), "--timelapse-child", mode,
           "--frames", str(n), "--size", f"{w}x{h}", "--out", out]
    res = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=900)
    return json.loads(res.stdout.strip().splitlines()[-1])


def ffprobe_frames(path: str) -> str:
    exe = shutil.which("ffprobe")
    if not exe:
        return "?"
    out = subprocess.run([exe, "-v", "error", "-select_streams", "v:0", "-count_packets",
                          "-show_entries", "stream=codec_name,pix_fmt,width,height,nb_read_packets",
                          "-of", "csv=p=0", path], capture_output=True, text=True, timeout=120)
    return out.stdout.strip()


# --------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer runs, 200-frame timelapse")
    ap.add_argument("--timelapse-child")
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--size", default="1280x1024")
    ap.add_argument("--out")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    if a.timelapse_child:
        timelapse_child(a.timelapse_child, a.frames, h, w, a.out)
        return

    t_all = time.perf_counter()
    work = tempfile.mkdtemp(prefix="skyfleet-bench-")
    try:
        print(f"python {sys.version.split()[0]}, numpy {np.__version__}, opencv {cv2.__version__}, "
              f"{os.cpu_count()} cores", flush=True)
        # timelapse first: the children's peak RSS must not start from our big frames
        n = 200 if a.quick else a.frames
        vw, vh = w, h
        tl = {}
        for mode in ("bare", "ours"):
            tl[mode] = run_child(mode, n, vh, vw, work)
            print(f"timelapse {mode}: {tl[mode]}", flush=True)
        probe = ffprobe_frames(os.path.join(work, "tl_ours.mp4"))

        rows = []
        for label, fh, fw, bayer, runs in (("1280x1024 mono", 1024, 1280, False, 5 if a.quick else 9),
                                            ("3008x3008 RGGB", 3008, 3008, True, 3 if a.quick else 7)):
            r = bench_frames(label.replace(" ", "_"), fh, fw, bayer, runs, work)
            r["label"] = label
            rows.append(r)
            print(f"{label}: ours {r['ours_ms']:.1f} ms, bare {r['bare_ms']:.1f} ms "
                  f"(LUT given {r['bare_nostats_ms']:.1f}), steps {r['steps_ms']}", flush=True)

        print("\n| case | ours | bare | ratio (goal <= 1.2) | notes |")
        print("|---|---|---|---|---|")
        for r in rows:
            print(f"| process_frame {r['label']} (median of {r['runs']}) | {r['ours_ms']:.1f} ms | "
                  f"{r['bare_ms']:.1f} ms | {r['ours_ms'] / r['bare_ms']:.2f}x | "
                  f"bare with the LUT given (no median/MAD) {r['bare_nostats_ms']:.1f} ms "
                  f"({r['ours_ms'] / r['bare_nostats_ms']:.2f}x) |")
        for r in rows:
            print(f"| process_frame {r['label']} with stars, pseudo-SQM and line detection vs without "
                  f"| {r['ours_ms']:.1f} ms | {r['unmeasured_ms']:.1f} ms | {r['ours_ms'] / r['unmeasured_ms']:.2f}x "
                  f"(goal <= 1.3) | {r['stars']} stars counted in the last frame |")
        o, b = tl["ours"], tl["bare"]
        samples = o["rss_samples_mb"]
        print(f"| timelapse {n} x {vw}x{vh} BGR, x264 veryfast crf 23 | {o['elapsed']:.1f} s | "
              f"{b['elapsed']:.1f} s | {o['elapsed'] / b['elapsed']:.2f}x | "
              f"ffprobe: {probe} |")
        src_mb = N_DISTINCT * vw * vh * 3 / 2 ** 20
        print(f"| peak RSS (VmHWM; getrusage ru_maxrss), our process / bare feeder | "
              f"{o['self_hwm_mb']:.0f} MB ({o['self_maxrss_mb']:.0f}) | "
              f"{b['self_hwm_mb']:.0f} MB ({b['self_maxrss_mb']:.0f}) | | RSS after 100 / {n} frames: "
              f"{samples.get('100', '?')} / {samples.get(str(n), '?')} MB, incl. {src_mb:.0f} MB of "
              f"source frames |")
        print(f"| peak RSS, ffmpeg (VmHWM sampled every 0.1 s) | {o['ffmpeg_hwm_mb']:.0f} MB | "
              f"{b['ffmpeg_hwm_mb']:.0f} MB | | |")
        print(f"\ntotal bench time {time.perf_counter() - t_all:.0f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
