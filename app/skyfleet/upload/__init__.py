"""The camera side of the SyncAPI: client, durable outbox and upload workers (no Flask here)."""
