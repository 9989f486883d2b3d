"""How values look on the pages: media URLs, times, exposures (Jinja globals and filters)."""
from __future__ import annotations

import datetime as dt
from typing import Optional
from urllib.parse import quote

from flask import Flask, g, url_for

from ..core.version import version
from ..models import Asset, utcnow
from ..timefmt import age_label, local_time_label

KIND_LABELS = {
    "image": "Image", "panoramaimage": "Panorama", "video": "Timelapse", "keogram": "Keogram",
    "startrail": "Star trail", "startrailvideo": "Star trail video", "panoramavideo": "Panorama timelapse",
    "minivideo": "Mini timelapse", "thumbnail": "Thumbnail", "rawimage": "Raw export", "fitsimage": "FITS",
}


def media_prefix() -> str:
    """The URL of the media folder, built once per request (url_for per thumbnail is slow)."""
    prefix = g.get("_media_prefix")
    if prefix is None:
        prefix = g._media_prefix = url_for("media.media", relpath="x")[:-1]
    return prefix


def media_file_url(filename: Optional[str]) -> Optional[str]:
    return media_prefix() + quote(filename, safe="/") if filename else None


def media_url(asset) -> Optional[str]:
    return media_file_url(asset.filename) if asset is not None else None


def latest_image_url(asset) -> str:
    """The camera's stable latest-image URL; `v` only makes each new image a new URL for the browser's cache."""
    return url_for("latest.latest_file", camera_ref=str(asset.camera_id), kind="image", only_tonight=False,
                   v=asset.id)


def thumb_url(asset, thumbs: dict) -> Optional[str]:
    """The asset's thumbnail file (thumbs: uuid -> file name) when there is one, else the asset itself."""
    return media_file_url((thumbs.get(asset.thumbnail_uuid) if asset.thumbnail_uuid else None) or asset.filename)


def id_urls(endpoint: str, key: str = "asset_id", **values):
    """A function id -> url_for(endpoint, key=id, **values), building the URL only once."""
    marker = 987654321987
    pattern = url_for(endpoint, **{key: marker}, **values).replace(str(marker), "{}")
    return pattern.format


def when(asset) -> str:
    return local_time_label(asset.create_date, asset.utc_offset) if asset is not None else ""


def ago(utc: Optional[dt.datetime]) -> str:
    return age_label(utc, utcnow())


def exposure(seconds: Optional[float]) -> str:
    if seconds is None:
        return "–"
    if seconds >= 10:
        return f"{seconds:.0f} s"
    if seconds >= 1:
        return f"{seconds:.1f} s"
    if seconds >= 0.001:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def number(value, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "–"
    text = f"{value:.{digits}f}" if isinstance(value, float) else str(value)
    return f"{text} {unit}".rstrip()


def moon(asset: Asset) -> str:
    if asset.moonphase is None:
        return "–"
    return f"{asset.moonphase:.0f} % lit" + (" (moon mode)" if asset.moonmode else "")


def file_size(n: Optional[int]) -> str:
    if not n:
        return "–"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def period(night: bool) -> str:
    return "night" if night else "day"


def image_json(asset: Optional[Asset]) -> Optional[dict]:
    """The Now page's view of an image (the JSON the page polls)."""
    if asset is None:
        return None
    return {
        "id": asset.id, "url": media_url(asset), "latest": latest_image_url(asset), "time": when(asset),
        "utc": asset.create_date_utc.strftime("%Y-%m-%dT%H:%M:%SZ"), "night": bool(asset.night),
        "exposure": exposure(asset.exposure), "moon": moon(asset), "gain": number(asset.gain, 0),
        "stars": number(asset.stars), "temp": number(asset.temp, 1, "°C"), "sqm": number(asset.sqm, 1),
        "width": asset.width, "height": asset.height,
        "page": url_for("web.image", camera_id=asset.camera_id, asset_id=asset.id),
    }


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(media_url=media_url, latest_image_url=latest_image_url, thumb_url=thumb_url,
                                 id_urls=id_urls, when=when, ago=ago,
                                 kind_label=KIND_LABELS.get, period=period, skyfleet_version=version())
    app.jinja_env.filters.update(exposure=exposure, number=number, moon=moon, file_size=file_size)
