"""Benchmarks of nps-sync against the built-in emulators (``make bench``)."""
