"""Device probes that need no model: the health check's thermal reading and smoke ``.pte``, and the
per-rep telemetry the execute stage shares with them. Each probe is ``python -m``-runnable."""
