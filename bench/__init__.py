"""Benchmarks of the running service (`python -m bench.<name>`; bench/README.md)."""
