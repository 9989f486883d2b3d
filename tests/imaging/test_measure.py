"""Known answers for the per-frame measurements: drawn stars are counted, a drawn streak is one
detection, a darker sky reads a higher pseudo-SQM.  The frames are drawn here with numpy, not with
the code under test; sizes are the two the benchmark uses (1280x1024, 3008x3008)."""
from __future__ import annotations

import numpy as np
import pytest

from skyfleet.imaging.measure import count_stars, detect_lines, measure, pseudo_sqm, working_copy


def sky(shape, background: float = 30.0, noise: float = 3.0, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(background, noise, shape), 0, 255)


def draw_stars(img: np.ndarray, n: int, sigma: float, seed: int = 2) -> list:
    """`n` Gaussian stars inside 80 % of the inscribed circle, at least 10 sigma apart."""
    rng = np.random.default_rng(seed)
    h, w = img.shape
    placed = []
    radius = 0.8 * min(h, w) / 2
    while len(placed) < n:
        r, a = radius * np.sqrt(rng.random()), rng.random() * 2 * np.pi
        x, y = w / 2 + r * np.cos(a), h / 2 + r * np.sin(a)
        if all((x - px) ** 2 + (y - py) ** 2 > (10 * sigma) ** 2 for px, py in placed):
            placed.append((x, y))
    half = int(4 * sigma) + 1
    for x, y in placed:
        x0, y0 = int(x) - half, int(y) - half
        yy, xx = np.mgrid[y0:y0 + 2 * half + 1, x0:x0 + 2 * half + 1]
        amplitude = rng.uniform(80, 200)
        img[y0:y0 + 2 * half + 1, x0:x0 + 2 * half + 1] += amplitude * np.exp(
            -((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma ** 2))
    return placed


def as8(img: np.ndarray) -> np.ndarray:
    return np.clip(img, 0, 255).astype(np.uint8)


def colour(img8: np.ndarray) -> np.ndarray:
    return np.repeat(img8[:, :, None], 3, axis=2)


@pytest.mark.parametrize("shape, sigma, n", [((1024, 1280), 1.2, 300), ((3008, 3008), 2.5, 400)],
                         ids=["1280x1024", "3008x3008"])
def test_drawn_stars_are_counted_within_5_percent(shape, sigma, n):
    img = sky(shape)
    draw_stars(img, n, sigma)
    counted = count_stars(working_copy(colour(as8(img))))
    assert abs(counted - n) <= 0.05 * n, counted


def test_a_starless_frame_counts_none_and_the_moon_is_not_a_star():
    img = sky((1024, 1280))
    assert count_stars(working_copy(as8(img))) == 0
    yy, xx = np.mgrid[0:1024, 0:1280]
    img[(xx - 700) ** 2 + (yy - 500) ** 2 < 40 ** 2] = 250  # a moon disc
    assert count_stars(working_copy(as8(img))) == 0


def test_stars_outside_the_sky_circle_do_not_count():
    img = sky((1024, 1280))
    for x, y in ((20, 20), (1260, 20), (20, 1000), (1260, 1000)):  # the corners: not sky
        img[y - 2:y + 3, x - 2:x + 3] += 150
    assert count_stars(working_copy(as8(img))) == 0


def streak(img: np.ndarray, start, end, width: int = 3, level: float = 120.0) -> None:
    n = int(np.hypot(end[0] - start[0], end[1] - start[1]))
    for t in np.linspace(0, 1, n * 2):
        x, y = int(start[0] + t * (end[0] - start[0])), int(start[1] + t * (end[1] - start[1]))
        img[y - width // 2:y + width // 2 + 1, x - width // 2:x + width // 2 + 1] += level


@pytest.mark.parametrize("shape", [(1024, 1280), (3008, 3008)], ids=["1280x1024", "3008x3008"])
def test_a_drawn_streak_is_one_detection_and_stars_alone_none(shape):
    before = sky(shape, seed=5)
    draw_stars(before, 150, 1.5, seed=6)
    after = before + np.random.default_rng(7).normal(0, 2, shape)  # the same sky, new noise
    h, w = shape
    assert detect_lines(working_copy(as8(after)), working_copy(as8(before))) == ()
    streak(after, (w * 0.35, h * 0.30), (w * 0.62, h * 0.55), width=max(3, w // 400))
    found = detect_lines(working_copy(as8(after)), working_copy(as8(before)))
    assert len(found) == 1, found
    x0, y0, x1, y1 = found[0]
    scale = working_copy(as8(after)).shape[1] / w
    assert x0 <= w * 0.36 * scale and x1 >= w * 0.61 * scale, found


def test_two_streaks_far_apart_are_two_detections_and_a_cloud_is_none():
    shape = (1024, 1280)
    before = sky(shape)
    after = before.copy()
    streak(after, (300, 300), (500, 420))
    streak(after, (800, 650), (980, 520))
    assert len(detect_lines(working_copy(as8(after)), working_copy(as8(before)))) == 2
    cloudy = before.copy()
    cloudy[200:800, 300:1000] += 90  # a bright cloud bank drifting in: a big change, not a line
    streak(cloudy, (300, 300), (500, 420))
    assert detect_lines(working_copy(as8(cloudy)), working_copy(as8(before))) == ()


def test_no_previous_frame_means_no_detection():
    assert detect_lines(working_copy(as8(sky((1024, 1280)))), None) == ()


def test_a_darker_sky_at_the_same_exposure_reads_a_higher_pseudo_sqm():
    bright = np.full((1024, 1280), 3000, np.uint16)
    dark = np.full((1024, 1280), 1500, np.uint16)
    assert pseudo_sqm(dark, 10.0, 100, 22.0) > pseudo_sqm(bright, 10.0, 100, 22.0)
    # the same background from twice the exposure is a darker sky; half the background is 0.75 mag
    assert pseudo_sqm(bright, 20.0, 100, 22.0) > pseudo_sqm(bright, 10.0, 100, 22.0)
    assert pseudo_sqm(dark, 10.0, 100, 22.0) - pseudo_sqm(bright, 10.0, 100, 22.0) == pytest.approx(0.75, abs=0.02)
    assert pseudo_sqm(bright, 10.0, 100, 21.0) == pytest.approx(pseudo_sqm(bright, 10.0, 100, 22.0) - 1.0)


def test_measure_returns_the_copy_for_the_next_frame():
    first = sky((1024, 1280))
    draw_stars(first, 50, 1.2)
    m1, copy = measure(colour(as8(first)), (first * 100).astype(np.uint16), 10.0, 100)
    assert m1.detections == 0 and abs(m1.stars - 50) <= 2 and copy.shape == (512, 640)
    second = first.copy()
    streak(second, (300, 300), (600, 500))
    m2, _ = measure(colour(as8(second)), (second * 100).astype(np.uint16), 10.0, 100, previous=copy)
    assert m2.detections == 1
