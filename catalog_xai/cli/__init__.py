"""Command-line entry points: each job's argument parsing and ``main`` (console scripts ``cxai-*``)."""
