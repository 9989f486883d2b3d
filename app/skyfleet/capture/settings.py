"""Capture settings: the ``[capture]`` table of the skyfleet TOML file, validated.

Every validation error is a ``ValueError`` whose message starts with ``capture.<field>``,
so a typo or a bad value in an inventory points at the line to fix.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, List, Mapping, Optional

from .ranges import NumberRange

SECTION = "capture"


@dataclass(frozen=True)
class ExposureLimits(NumberRange):
    """Shortest and longest exposure (seconds) the auto-exposure may choose."""


@dataclass(frozen=True)
class CaptureSettings:
    # where the site is (no defaults: a wrong location silently gives wrong day/night)
    latitude: float
    longitude: float
    elevation: float = 0.0
    # the camera's name on the remote (matched by name locally; its uuid is made once)
    camera_name: str = "skyfleet camera"

    # INDI server and camera
    indi_host: str = "127.0.0.1"
    indi_port: int = 7624
    ccd_device: str = "CCD Simulator"
    # a mount (or the telescope simulator) connected with the camera, named to the CCD as its
    # ACTIVE_TELESCOPE: its coordinates go into the FITS header, and INDI 1.8's CCD simulator
    # refuses to expose without them. Empty: none.
    telescope_device: str = ""
    # drivers the deployment's indiserver unit starts (capture itself only talks to ccd_device)
    drivers: List[str] = field(default_factory=lambda: ["indi_simulator_ccd"])

    # camera settings
    gain_night: float = 90.0
    gain_day: float = 0.0
    binning: int = 1

    # auto-exposure
    exposure_min_day: float = 0.0001
    exposure_max_day: float = 1.0
    exposure_min_night: float = 1.0
    exposure_max_night: float = 30.0
    exposure_initial: Optional[float] = None  # None: start at the shortest exposure of the period
    target_adu: float = 10000.0
    adu_tolerance: float = 0.15  # "stable" when |measured - target| <= tolerance * target
    exposure_damping: float = 0.6  # 1 = jump straight to the linear estimate, smaller = slower
    max_exposure_step: float = 8.0  # never change the exposure by more than this factor per frame

    # scheduling
    period: float = 60.0  # seconds from the start of one frame to the start of the next
    daytime_capture: bool = True
    night_sun_alt: float = -6.0

    # robustness
    connect_timeout: float = 15.0  # TCP connect + device setup
    blob_margin: float = 30.0  # a BLOB must arrive within exposure + margin
    reconnect_backoff_initial: float = 1.0
    reconnect_backoff_max: float = 30.0

    def __post_init__(self) -> None:
        _validate(self)

    # --- derived values -------------------------------------------------
    @property
    def day_limits(self) -> ExposureLimits:
        return ExposureLimits(self.exposure_min_day, self.exposure_max_day)

    @property
    def night_limits(self) -> ExposureLimits:
        return ExposureLimits(self.exposure_min_night, self.exposure_max_night)

    def limits(self, night: bool) -> ExposureLimits:
        return self.night_limits if night else self.day_limits

    def gain(self, night: bool) -> float:
        return self.gain_night if night else self.gain_day

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> CaptureSettings:
        """Build from a parsed TOML ``[capture]`` table; unknown keys are errors."""
        if not isinstance(raw, Mapping):
            raise ValueError(f"{SECTION}: must be a table, got {type(raw).__name__}")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise ValueError(f"{SECTION}.{unknown[0]}: unknown setting (known: {', '.join(sorted(known))})")
        for required in ("latitude", "longitude"):
            if required not in raw:
                raise ValueError(f"{SECTION}.{required}: is required")
        values = {}
        for name, value in raw.items():
            kind = _KINDS[name]
            values[name] = _coerce(name, value, kind)
        return cls(**values)


# name -> kind used for type checks ("float", "int", "str", "bool", "strlist", "float?", "str?")
_KINDS = {
    "latitude": "float", "longitude": "float", "elevation": "float",
    "indi_host": "str", "indi_port": "int", "ccd_device": "str", "telescope_device": "str", "drivers": "strlist",
    "gain_night": "float", "gain_day": "float", "binning": "int",
    "exposure_min_day": "float", "exposure_max_day": "float",
    "exposure_min_night": "float", "exposure_max_night": "float", "exposure_initial": "float?",
    "target_adu": "float", "adu_tolerance": "float", "exposure_damping": "float",
    "max_exposure_step": "float",
    "period": "float", "daytime_capture": "bool", "night_sun_alt": "float",
    "connect_timeout": "float", "blob_margin": "float",
    "reconnect_backoff_initial": "float", "reconnect_backoff_max": "float",
    "camera_name": "str",
}


def _where(name: str) -> str:
    return f"{SECTION}.{name}"


def _coerce(name: str, value: Any, kind: str) -> Any:
    optional = kind.endswith("?")
    base = kind.rstrip("?")
    if value is None:
        if optional:
            return None
        raise ValueError(f"{_where(name)}: must be set, got None")
    if base == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{_where(name)}: must be a number, got {value!r}")
        return float(value)
    if base == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{_where(name)}: must be an integer, got {value!r}")
        return value
    if base == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{_where(name)}: must be true or false, got {value!r}")
        return value
    if base == "str":
        if not isinstance(value, str):
            raise ValueError(f"{_where(name)}: must be a string, got {value!r}")
        return value
    if base == "strlist":
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{_where(name)}: must be a list of strings, got {value!r}")
        return list(value)
    raise AssertionError(kind)  # pragma: no cover


def _check_range(s: CaptureSettings, name: str, lo: Optional[float] = None, hi: Optional[float] = None,
                 lo_open: bool = False) -> None:
    value = getattr(s, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{_where(name)}: must be a number, got {value!r}")
    if value != value:  # NaN
        raise ValueError(f"{_where(name)}: must be a number, got NaN")
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise ValueError(f"{_where(name)}: must be {'>' if lo_open else '>='} {lo}, got {value!r}")
    if hi is not None and value > hi:
        raise ValueError(f"{_where(name)}: must be <= {hi}, got {value!r}")


def _validate(s: CaptureSettings) -> None:
    _check_range(s, "latitude", -90.0, 90.0)
    _check_range(s, "longitude", -180.0, 360.0)
    _check_range(s, "elevation", -500.0, 10000.0)

    if not isinstance(s.camera_name, str) or not s.camera_name.strip() or len(s.camera_name) > 128:
        raise ValueError(f"{_where('camera_name')}: must be a name of 1-128 characters, got {s.camera_name!r}")
    if not isinstance(s.indi_host, str) or not s.indi_host.strip():
        raise ValueError(f"{_where('indi_host')}: must be a non-empty host name, got {s.indi_host!r}")
    if isinstance(s.indi_port, bool) or not isinstance(s.indi_port, int) or not 1 <= s.indi_port <= 65535:
        raise ValueError(f"{_where('indi_port')}: must be an integer 1..65535, got {s.indi_port!r}")
    if not isinstance(s.ccd_device, str) or not s.ccd_device.strip():
        raise ValueError(f"{_where('ccd_device')}: must be a non-empty device name, got {s.ccd_device!r}")
    if not isinstance(s.telescope_device, str) or s.telescope_device != s.telescope_device.strip():
        raise ValueError(f"{_where('telescope_device')}: must be a device name without surrounding spaces "
                         f"(empty for none), got {s.telescope_device!r}")
    if s.telescope_device and s.telescope_device == s.ccd_device:
        raise ValueError(f"{_where('telescope_device')}: must differ from ccd_device ({s.ccd_device!r})")
    if (not isinstance(s.drivers, (list, tuple)) or not s.drivers
            or not all(isinstance(d, str) and d.strip() for d in s.drivers)):
        raise ValueError(f"{_where('drivers')}: must be a non-empty list of driver names, got {s.drivers!r}")

    _check_range(s, "gain_night", 0.0)
    _check_range(s, "gain_day", 0.0)
    if isinstance(s.binning, bool) or not isinstance(s.binning, int) or not 1 <= s.binning <= 8:
        raise ValueError(f"{_where('binning')}: must be an integer 1..8, got {s.binning!r}")

    for name in ("exposure_min_day", "exposure_max_day", "exposure_min_night", "exposure_max_night"):
        _check_range(s, name, 0.0, 3600.0, lo_open=True)
    for period in ("day", "night"):
        lo, hi = f"exposure_min_{period}", f"exposure_max_{period}"
        if getattr(s, lo) > getattr(s, hi):
            raise ValueError(f"{_where(lo)}: must be <= {hi} ({getattr(s, lo)!r} > {getattr(s, hi)!r})")
    if s.exposure_initial is not None:
        _check_range(s, "exposure_initial", 0.0, 3600.0, lo_open=True)

    _check_range(s, "target_adu", 0.0, 65535.0, lo_open=True)
    _check_range(s, "adu_tolerance", 0.0, 1.0, lo_open=True)
    _check_range(s, "exposure_damping", 0.0, 1.0, lo_open=True)
    _check_range(s, "max_exposure_step", 1.0, lo_open=True)

    _check_range(s, "period", 0.0, lo_open=True)
    if not isinstance(s.daytime_capture, bool):
        raise ValueError(f"{_where('daytime_capture')}: must be true or false, got {s.daytime_capture!r}")
    _check_range(s, "night_sun_alt", -90.0, 90.0)

    _check_range(s, "connect_timeout", 0.0, lo_open=True)
    _check_range(s, "blob_margin", 0.0, lo_open=True)
    _check_range(s, "reconnect_backoff_initial", 0.0, lo_open=True)
    _check_range(s, "reconnect_backoff_max", 0.0, lo_open=True)
    if s.reconnect_backoff_initial > s.reconnect_backoff_max:
        raise ValueError(f"{_where('reconnect_backoff_initial')}: must be <= reconnect_backoff_max")

