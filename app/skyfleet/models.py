"""The data model, shared by the web app (through Flask-SQLAlchemy) and the camera-side services.

Plain SQLAlchemy 2.0: nothing here imports Flask.  Assets of every kind live in one table
(single-table inheritance) so listing a night, counting and de-duplicating are single queries.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """Naive UTC: every *_utc column and audit timestamp is stored this way."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Fernet token of the key text (HMAC needs the key itself, so it cannot be a one-way hash).
    api_key_encrypted: Mapped[Optional[str]] = mapped_column(Text)
    # First 16 hex of sha256(key): identifies a key in listings and logs without revealing it.
    api_key_fingerprint: Mapped[Optional[str]] = mapped_column(String(16))
    api_key_created_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<User {self.username}{' admin' if self.is_admin else ''}>"


class Camera(Base):
    __tablename__ = "camera"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    driver: Mapped[Optional[str]] = mapped_column(String(128))
    tz: Mapped[Optional[str]] = mapped_column(String(64))
    utc_offset: Mapped[int] = mapped_column(Integer, default=0)
    location: Mapped[Optional[str]] = mapped_column(String(128))
    owner: Mapped[Optional[str]] = mapped_column(String(128))
    latitude: Mapped[Optional[float]] = mapped_column(Float)
    longitude: Mapped[Optional[float]] = mapped_column(Float)
    elevation: Mapped[Optional[float]] = mapped_column(Float)
    width: Mapped[Optional[int]] = mapped_column(Integer)
    height: Mapped[Optional[int]] = mapped_column(Integer)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The SyncAPI account that registered the camera: only it (and admins) may change it or its assets.
    registered_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    connect_date: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    assets: Mapped[list[Asset]] = relationship(back_populates="camera", passive_deletes=True)


class SyncNonce(Base):
    """Nonces of skyfleet-signed requests seen within the clock window (replay protection)."""

    __tablename__ = "sync_nonce"
    __table_args__ = (UniqueConstraint("user_id", "nonce"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    nonce: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class SyncV1Mac(Base):
    """v1 HMACs seen within the clock window, with what they came with.

    A v1 MAC covers only the metadata, so the same MAC arriving with another method or other media is
    a replay of a captured request and is refused."""

    __tablename__ = "sync_v1_mac"
    __table_args__ = (UniqueConstraint("user_id", "mac"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    mac: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(8))
    media_sha256: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class LoginSession(Base):
    """A signed-in web session; the cookie carries the token, the table its sha256.

    Logout deletes the row, so a copied cookie stops working."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class LoginFailure(Base):
    """A failed web login, kept for the throttle window (web/throttle.py)."""

    __tablename__ = "login_failure"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(128))
    address: Mapped[str] = mapped_column(String(64), index=True)
    failed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class LongTermKeogram(Base):
    """Five keogram pixels per image, kept after the images themselves are pruned."""

    __tablename__ = "longterm_keogram"
    __table_args__ = (UniqueConstraint("camera_id", "ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("camera.id", ondelete="CASCADE"))
    ts: Mapped[int] = mapped_column(BigInteger)
    pixels: Mapped[list] = mapped_column(JSON)


class ExpiryMark(Base):
    """Up to which night a camera's assets of one prune class were expired (housekeeping/policy.py).

    Pruning goes oldest night first within a class, so one date per camera and class remembers every
    expired asset: the SyncAPI answers 410 for any of them, and a resync does not send them again."""

    __tablename__ = "expiry_mark"
    __table_args__ = (UniqueConstraint("camera_id", "prune_class"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("camera.id", ondelete="CASCADE"))
    prune_class: Mapped[str] = mapped_column(String(20))
    through_day: Mapped[dt.date] = mapped_column(Date)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class PruneEvent(Base):
    """One night's assets of one prune class removed by a prune: what, why, and how much."""

    __tablename__ = "prune_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    camera_id: Mapped[Optional[int]] = mapped_column(ForeignKey("camera.id", ondelete="SET NULL"))
    prune_class: Mapped[str] = mapped_column(String(20))
    day_date: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(12))  # retention, floor, emergency
    assets: Mapped[int] = mapped_column(Integer, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    # Assets removed before every remote had them (only below the emergency floor).
    undelivered: Mapped[int] = mapped_column(Integer, default=0)


class AlertState(Base):
    """An alert's incident state, so each incident is announced once and its recovery once."""

    __tablename__ = "alert_state"
    __table_args__ = (UniqueConstraint("name", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))      # e.g. camera_silent, queue_stalled
    subject: Mapped[str] = mapped_column(String(128))  # what it is about: a camera, a remote, a folder
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    since: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    message: Mapped[Optional[str]] = mapped_column(Text)
    notified_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Asset(Base):
    """One stored file (or, in indi-allsky's empty-file mode, a row without a file)."""

    __tablename__ = "asset"
    __table_args__ = (
        UniqueConstraint("camera_id", "kind", "natural_key", name="uq_asset_natural_key"),
        Index("ix_asset_camera_kind_date", "camera_id", "kind", "create_date_utc"),
        Index("ix_asset_camera_kind_day", "camera_id", "kind", "day_date", "night"),
        Index("ix_asset_camera_kind_day_stars", "camera_id", "kind", "day_date", "night", "stars"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    camera_id: Mapped[int] = mapped_column(ForeignKey("camera.id", ondelete="CASCADE"))
    # The duplicate key of the kind (see skyfleet.core.assets), unique per camera and kind.
    natural_key: Mapped[str] = mapped_column(String(64))
    create_date_utc: Mapped[dt.datetime] = mapped_column(DateTime)
    # The camera's local wall time (UTC + the camera's utc_offset at capture), as indi-allsky shows it.
    create_date: Mapped[dt.datetime] = mapped_column(DateTime)
    utc_offset: Mapped[int] = mapped_column(Integer, default=0)
    day_date: Mapped[dt.date] = mapped_column(Date)
    night: Mapped[bool] = mapped_column(Boolean)
    # Path relative to the storage folder; NULL for rows without a file.
    filename: Mapped[Optional[str]] = mapped_column(String(512), unique=True)
    file_size: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[Optional[str]] = mapped_column(String(64))
    width: Mapped[Optional[int]] = mapped_column(Integer)
    height: Mapped[Optional[int]] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    remote_url: Mapped[Optional[str]] = mapped_column(String(512))
    s3_key: Mapped[Optional[str]] = mapped_column(String(512))
    thumbnail_uuid: Mapped[Optional[str]] = mapped_column(String(36))
    uploaded_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    # image-like kinds
    exposure: Mapped[Optional[float]] = mapped_column(Float)
    exp_elapsed: Mapped[Optional[float]] = mapped_column(Float)
    gain: Mapped[Optional[float]] = mapped_column(Float)
    binmode: Mapped[Optional[int]] = mapped_column(Integer)
    temp: Mapped[Optional[float]] = mapped_column(Float)
    calibrated: Mapped[Optional[bool]] = mapped_column(Boolean)
    adu: Mapped[Optional[float]] = mapped_column(Float)
    # indi-allsky's ADU_ROI setting: [] (whole frame) or [x1, y1, x2, y2]
    adu_roi: Mapped[Optional[list]] = mapped_column(JSON(none_as_null=True))
    stable: Mapped[Optional[bool]] = mapped_column(Boolean)
    moonmode: Mapped[Optional[bool]] = mapped_column(Boolean)
    moonphase: Mapped[Optional[float]] = mapped_column(Float)
    sqm: Mapped[Optional[float]] = mapped_column(Float)
    stars: Mapped[Optional[int]] = mapped_column(Integer)
    detections: Mapped[Optional[int]] = mapped_column(Integer)
    process_elapsed: Mapped[Optional[float]] = mapped_column(Float)
    kpindex: Mapped[Optional[float]] = mapped_column(Float)
    ovation_max: Mapped[Optional[int]] = mapped_column(Integer)
    smoke_rating: Mapped[Optional[int]] = mapped_column(Integer)
    exclude: Mapped[Optional[bool]] = mapped_column(Boolean)
    # video-like kinds, keogram, star trail
    framerate: Mapped[Optional[float]] = mapped_column(Float)
    frames: Mapped[Optional[int]] = mapped_column(Integer)
    success: Mapped[Optional[bool]] = mapped_column(Boolean)
    # mini timelapse (UTC)
    target_date: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    start_date: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    end_date: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    note: Mapped[Optional[str]] = mapped_column(Text)
    # thumbnail
    uuid: Mapped[Optional[str]] = mapped_column(String(36))
    origin: Mapped[Optional[int]] = mapped_column(Integer)

    camera: Mapped[Camera] = relationship(back_populates="assets")

    __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "asset"}


class UploadJob(Base):
    """One asset (or the camera) to deliver to one remote: the camera host's durable outbox.

    Rows are created in the same transaction that records the asset.  Workers claim a job by
    leasing it; a lease that is not renewed (worker killed) expires and another worker takes over.
    """

    __tablename__ = "upload_job"
    __table_args__ = (
        UniqueConstraint("remote", "action", "camera_id", "asset_id", name="uq_upload_job_target"),
        Index("ix_upload_job_claim", "remote", "state", "priority", "sort_time"),
        # Deleting an asset deletes its jobs (ON DELETE CASCADE), and pruning asks whether it was delivered.
        Index("ix_upload_job_asset_id", "asset_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    remote: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # "camera" or "asset"
    camera_id: Mapped[int] = mapped_column(ForeignKey("camera.id", ondelete="CASCADE"))
    asset_id: Mapped[Optional[int]] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(8), default="POST")
    state: Mapped[str] = mapped_column(String(12), default="pending")  # pending, leased, done, parked
    priority: Mapped[int] = mapped_column(Integer, default=2)
    sort_time: Mapped[dt.datetime] = mapped_column(DateTime)  # newest first within a priority
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    lease_owner: Mapped[Optional[str]] = mapped_column(String(64))
    lease_expires_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    last_status: Mapped[Optional[int]] = mapped_column(Integer)
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    remote_id: Mapped[Optional[int]] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    done_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)

    asset: Mapped[Optional[Asset]] = relationship()
    camera: Mapped[Camera] = relationship()


def _kind(name: str, doc: str) -> type:
    return type(name, (Asset,), {"__doc__": doc, "__mapper_args__": {"polymorphic_identity": name.lower()}})


Image = _kind("Image", "A processed sky image (JPEG/PNG/...).")
RawImage = _kind("RawImage", "An export of the raw frame (e.g. 16-bit PNG/TIFF).")
FitsImage = _kind("FitsImage", "The FITS file as received from the camera.")
PanoramaImage = _kind("PanoramaImage", "A panorama projection of an image.")
Video = _kind("Video", "A night's (or day's) timelapse.")
MiniVideo = _kind("MiniVideo", "A short timelapse around an event.")
Keogram = _kind("Keogram", "A night's keogram.")
StarTrail = _kind("StarTrail", "A night's star-trail stack.")
StarTrailVideo = _kind("StarTrailVideo", "A video of the star trail building up.")
PanoramaVideo = _kind("PanoramaVideo", "A timelapse of panoramas.")
Thumbnail = _kind("Thumbnail", "A thumbnail of another asset, named by its own uuid.")

ASSET_CLASSES: dict[str, type] = {
    cls.__mapper_args__["polymorphic_identity"]: cls
    for cls in (Image, RawImage, FitsImage, PanoramaImage, Video, MiniVideo, Keogram, StarTrail,
                StarTrailVideo, PanoramaVideo, Thumbnail)
}
