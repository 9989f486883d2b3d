"""The core shared by both tiers: what the SyncAPI server, the camera side and the web UI all need.

- `assets`: the asset kinds, the file layout and building an asset's record from its metadata
  (`metadata` for the strict keys, `fields` for the tolerant ones, `jsontext` to read the JSON);
- `recording`: recording an asset written once (row, file, long-term keogram) in one transaction;
- `storage`: stored files behind a small interface (`Storage`), the local filesystem for now;
- `files`: the one atomic file placement (temp file, fsync, rename);
- `signing`: the signatures of SyncAPI requests; `errors`: the SyncAPI errors (status and code);
- `longterm_keogram`: the five pixels per image both tiers keep.

The top-level modules `skyfleet.models`, `skyfleet.settings`, `skyfleet.db_setup`, `skyfleet.apikeys`
and `skyfleet.timefmt` are part of the core too (they were tier-free before this package existed).

Imports run one way: the core imports only the standard library, SQLAlchemy and other core modules,
never Flask and never a tier (syncapi, web, capture, imaging, station, upload, the CLI);
tests/test_imports.py checks it.
"""
