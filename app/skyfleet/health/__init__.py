"""Running unattended: this host's health snapshot, Prometheus metrics and alert notices (no Flask here).

`collect` takes the snapshot, `metrics` turns it into Prometheus gauges on each scrape, `alerts` decides
which incidents start or end and `notify` tells the operator by e-mail and webhook.  The web app serves
`/healthz` and `/metrics` (skyfleet.web.health); `skyfleet health check` (a systemd timer, every 5 min)
sends the notices and writes node_exporter's textfile.
"""
