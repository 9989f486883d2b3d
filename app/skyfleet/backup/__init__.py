"""Backups: consistent database copies (pre-upgrade and in archives), backup archives and their restore.

Plain Python (no Flask): `skyfleet db upgrade` (db_cli) and `skyfleet backup ...` (backup_cli) use it.
"""
