"""Whether an asset a camera sends (or asks about) was expired here, or would be at once.

The SyncAPI answers 410 ``asset_expired`` for it, so a camera host's queue and `skyfleet sync resync`
mark it done instead of sending it again and again (the remote would only prune it once more).
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..models import Camera, ExpiryMark
from .policy import THUMBNAILS, RetentionPolicy, class_of

# the newest expiry mark of a camera's classes (asked for every upload: built once)
_MARKED_THROUGH = select(ExpiryMark.through_day).where(
    ExpiryMark.camera_id == bindparam("camera_id"), ExpiryMark.prune_class.in_(bindparam("classes", expanding=True))
).order_by(ExpiryMark.through_day.desc()).limit(1)


def expired_reason(session: Session, policy: RetentionPolicy, camera: Camera, kind: str, day: dt.date,
                   night: bool, origin: Optional[int], today: dt.date) -> Optional[str]:
    """Why an asset of `camera` of this kind and night is not kept here, or None when it is."""
    name = class_of(kind, night, origin)
    days = policy.days_for(camera.name, camera.uuid)
    checked = [name] + ([THUMBNAILS] if kind == "thumbnail" and name != "products" else [])
    for cls in checked:
        cutoff = policy.cutoff(days, cls, today)
        if cutoff is not None and day < cutoff:
            return (f"the night of {day:%Y-%m-%d} is older than this server keeps {cls.replace('_', ' ')} "
                    f"({days.for_class(cls)} days)")
    through = session.scalar(_MARKED_THROUGH, {"camera_id": camera.id, "classes": checked})
    if through is not None and day <= through:
        return f"{name.replace('_', ' ')} of this camera up to the night of {through:%Y-%m-%d} were pruned here"
    return None
