"""Producers: one per process, started on demand, publishing to channel-layer groups."""
