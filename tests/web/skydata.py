"""Synthetic all-sky frames for browser tests and screenshots: stars and the Milky Way turning around
the pole over a tree line, with twilight, light pollution and an auto-exposure, plus the night's
keogram, star trail and timelapse built by skyfleet.imaging.  Deterministic for a given seed.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import cv2
import numpy as np

# Galactic -> equatorial rotation (transpose of the IAU equatorial -> galactic matrix).
_GAL_TO_EQ = np.array([[-0.0548755604, 0.4941094279, -0.8676661490],
                       [-0.8734370902, -0.4448296300, -0.1980763734],
                       [-0.4838350155, 0.7469822445, 0.4559837762]]).T
SUN_RA, SUN_DEC = math.radians(280.0), math.radians(-23.0)  # early January


@dataclass
class Frame:
    jpeg: bytes
    thumb: bytes
    image: np.ndarray      # BGR uint8 without the text overlay, for night products
    exposure: float
    adu: float
    stars: int
    sqm: float
    temp: float
    night: bool


class Sky:
    """A camera at `latitude` looking up; frames for local wall times."""

    def __init__(self, name: str, latitude: float = 40.1, size: int = 720, seed: int = 7, stars: int = 2600):
        self.name, self.size, self.lat = name, size, math.radians(latitude)
        rng = np.random.default_rng(seed)
        self.rng = rng
        # stars: uniform on the sphere, a steep magnitude distribution
        self.ra = rng.uniform(0, 2 * math.pi, stars)
        self.dec = np.arcsin(rng.uniform(-1, 1, stars))
        self.flux = 10 ** (-0.4 * rng.exponential(1.4, stars)) * rng.uniform(0.6, 1.0, stars)
        tint = rng.uniform(-1, 1, stars)
        self.colour = np.stack([1 + 0.25 * tint, np.ones(stars), 1 - 0.25 * tint], axis=1)  # BGR
        # Milky Way: clumpy points near the galactic plane
        n = 60000
        lon = rng.uniform(0, 2 * math.pi, n)
        lon = np.concatenate([lon, rng.normal(0.0, 0.6, n // 2) % (2 * math.pi)])  # brighter toward the centre
        lat = rng.normal(0, math.radians(4.5), lon.size)
        vec = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
        eq = _GAL_TO_EQ @ vec
        self.mw_ra = np.arctan2(eq[1], eq[0])
        self.mw_dec = np.arcsin(np.clip(eq[2], -1, 1))
        self.mw_w = rng.gamma(0.6, 1.0, lon.size) * (1 + 0.5 * np.sin(3 * lon + 1.3) * np.cos(7 * lon))
        # fixed maps in the camera's frame: altitude and azimuth of each pixel, tree line
        c = (size - 1) / 2
        self.radius = size * 0.48
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        r = np.hypot(xx - c, yy - c)
        self.inside = r <= self.radius
        self.alt_map = np.clip(90.0 * (1 - r / self.radius), -5, 90)
        self.az_map = (np.degrees(np.arctan2(-(xx - c), -(yy - c))) + 360) % 360
        az = np.arange(0, 360, 0.5)
        ridge = 3.0 + 2.0 * np.sin(np.radians(az * 3 + 40)) + 1.5 * np.sin(np.radians(az * 7))
        for _ in range(14):  # trees
            centre, width, height = rng.uniform(0, 360), rng.uniform(3, 9), rng.uniform(4, 13)
            d = np.minimum(abs(az - centre), 360 - abs(az - centre))
            ridge = np.maximum(ridge, height * np.clip(1 - d / width, 0, 1) ** 0.7)
        horizon = np.interp(self.az_map, az, ridge)
        self.ground = self.alt_map < horizon
        glow = np.exp(-np.clip(self.alt_map, 0, 90) / 14.0)
        towns = np.exp(-(np.minimum(abs(self.az_map - 205), 360 - abs(self.az_map - 205)) / 35.0) ** 2)
        self.glow = glow.astype(np.float32)
        self.town = (towns * np.exp(-np.clip(self.alt_map, 0, 90) / 9.0)).astype(np.float32)
        self.centre = c

    def _project(self, ra, dec, lst: float):
        h = lst - ra
        sin_alt = np.sin(dec) * math.sin(self.lat) + np.cos(dec) * math.cos(self.lat) * np.cos(h)
        alt = np.arcsin(np.clip(sin_alt, -1, 1))
        az = np.arctan2(-np.cos(dec) * np.sin(h),
                        np.sin(dec) * math.cos(self.lat) - np.cos(dec) * math.sin(self.lat) * np.cos(h))
        r = self.radius * (1 - np.degrees(alt) / 90.0)
        self._last_az = az
        return self.centre - r * np.sin(az), self.centre - r * np.cos(az), np.degrees(alt)

    def sun_altitude(self, local: dt.datetime) -> float:
        return float(self._project(SUN_RA, SUN_DEC, self.lst(local))[2])

    @staticmethod
    def lst(local: dt.datetime) -> float:
        hours = (local - local.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds() / 3600
        return SUN_RA + math.pi + math.radians(15.041 * hours)

    def frame(self, local: dt.datetime, index: int = 0, meteor: bool = False) -> Frame:
        lst = self.lst(local)
        sun = self.sun_altitude(local)
        sky_level = float(10 ** np.clip((sun + 18) / 5.0, 0, 4.2))  # 1 at night, 16000 by day
        exposure = float(np.clip(300.0 / sky_level, 0.0002, 15.0))  # auto-exposure, 15 s at most
        gain = exposure / 15.0
        s = self.size
        img = np.zeros((s, s, 3), np.float32)
        # sky: twilight blue, glow near the horizon, an orange town to the south-west
        base = 0.0013 * sky_level * exposure
        self._project(SUN_RA, SUN_DEC, lst)
        sun_az = (math.degrees(float(self._last_az)) + 360) % 360
        d_az = np.minimum(abs(self.az_map - sun_az), 360 - abs(self.az_map - sun_az))
        twilight = 0.75 + 0.7 * np.exp(-(d_az / 75.0) ** 2) * np.exp(-np.clip(self.alt_map, 0, 90) / 35.0)
        img += (np.float32(base) * twilight.astype(np.float32))[..., None] * np.array([1.0, 0.62, 0.38], np.float32)
        img += (self.glow[..., None] * np.array([0.05, 0.05, 0.045], np.float32)) * gain
        img += (self.town[..., None] * np.array([0.05, 0.11, 0.2], np.float32)) * gain
        # Milky Way
        x, y, alt = self._project(self.mw_ra, self.mw_dec, lst)
        ok = (alt > -2) & (x >= 0) & (x < s) & (y >= 0) & (y < s)
        mw = np.zeros((s, s), np.float32)
        np.add.at(mw, (y[ok].astype(int), x[ok].astype(int)), self.mw_w[ok].astype(np.float32))
        mw = cv2.GaussianBlur(mw, (0, 0), 5) * 0.6 + cv2.GaussianBlur(mw, (0, 0), 1.4) * 0.25
        img += (mw * 0.5 * min(1.0, gain * 1.3))[..., None] * np.array([1.0, 0.95, 0.9], np.float32)
        # stars
        x, y, alt = self._project(self.ra, self.dec, lst)
        extinction = np.clip(np.sin(np.radians(np.clip(alt, 0, 90))) ** 0.6, 0, 1)
        bright = self.flux * extinction * gain * 1.5
        layer = np.zeros((s, s, 3), np.float32)
        visible = np.nonzero((alt > 0) & (bright > 0.01))[0]
        for i in visible:
            cv2.circle(layer, (int(x[i]), int(y[i])), 1 if bright[i] < 1.0 else 2,
                       tuple(float(v) for v in self.colour[i] * bright[i]), -1, cv2.LINE_AA)
        img += cv2.GaussianBlur(layer, (0, 0), 0.8)
        if meteor:
            a = self.rng.uniform(0, 2 * math.pi)
            x0, y0 = self.centre + 120 * math.cos(a), self.centre + 90 * math.sin(a)
            cv2.line(img, (int(x0), int(y0)), (int(x0 + 150 * math.cos(a + 0.6)), int(y0 + 150 * math.sin(a + 0.6))),
                     (0.9, 1.0, 0.8), 2, cv2.LINE_AA)
        img += self.rng.normal(0, 0.006, img.shape).astype(np.float32)
        lit = min(1.0, base / 0.4)
        img[self.ground] = img[self.ground] * 0.05 + np.array([0.006, 0.007, 0.006], np.float32) * (1 + 2 * lit)
        img[~self.inside] = 0
        out = np.clip(np.power(np.clip(img, 0, None), 0.6) * 255, 0, 255).astype(np.uint8)
        star_count = int(np.count_nonzero((alt[visible] > 10) & (bright[visible] > 0.08)))
        adu = float(out[self.inside].mean())
        clean = out.copy()  # night products are built without the text overlay
        self._overlay(out, local, exposure)
        ok1, jpeg = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 86])
        thumb_img = cv2.resize(out, (320, 320), interpolation=cv2.INTER_AREA)
        ok2, thumb = cv2.imencode(".jpg", thumb_img, [cv2.IMWRITE_JPEG_QUALITY, 80])
        assert ok1 and ok2
        return Frame(jpeg.tobytes(), thumb.tobytes(), clean, exposure, adu, star_count,
                     sqm=round(18.0 + 3.2 * (1 - min(1.0, math.log10(sky_level + 1) / 4)), 2),
                     temp=round(-1.0 - 5.0 * min(1.0, index / 60) + float(self.rng.normal(0, 0.15)), 1),
                     night=sun < -6)

    def _overlay(self, out: np.ndarray, local: dt.datetime, exposure: float) -> None:
        font = cv2.FONT_HERSHEY_SIMPLEX
        lines = [self.name, local.strftime("%Y-%m-%d %H:%M:%S"), f"Exposure {exposure:.4g} s"]
        for i, text in enumerate(lines):
            cv2.putText(out, text, (10, 24 + 22 * i), font, 0.55, (200, 200, 200), 1, cv2.LINE_AA)
