"""Running unattended: retention and free-space floors (policy, disk, prune, expiry), no Flask here."""
