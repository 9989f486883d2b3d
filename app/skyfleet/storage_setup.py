"""The storage of this deployment, from `[storage]`: the storage folder, or an S3 bucket (boto3 is
imported only then, so hosts without requirements/s3.txt never need it)."""
from __future__ import annotations

from .core.storage import LocalStorage, Storage
from .settings import Settings, read_secret

_MIB = 1024 * 1024


def storage_from_settings(settings: Settings) -> Storage:
    st = settings.storage
    if not st.is_s3:
        return LocalStorage(settings.storage_dir, settings.staging_dir)
    from .core.object_storage import S3Storage

    return S3Storage(s3_client(settings), st.bucket, settings.staging_dir, prefix=st.prefix,
                     multipart_threshold=st.multipart_threshold_mb * _MIB)


def s3_client(settings: Settings):
    import boto3
    from botocore.config import Config

    st = settings.storage
    credentials = {}
    if st.access_key_id:
        credentials = {"aws_access_key_id": st.access_key_id, "aws_secret_access_key": read_secret(st)}
    config = Config(
        signature_version="s3v4",
        # Path-style URLs for a store of one's own (MinIO, SeaweedFS, Garage): no wildcard DNS needed.
        s3={"addressing_style": "path" if st.endpoint_url else "auto"},
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=5, read_timeout=60,
        # botocore's default CRC checksums on every request are not understood by every S3-compatible store.
        request_checksum_calculation="when_required", response_checksum_validation="when_required",
    )
    return boto3.session.Session().client("s3", endpoint_url=st.endpoint_url or None, region_name=st.region,
                                          config=config, **credentials)
