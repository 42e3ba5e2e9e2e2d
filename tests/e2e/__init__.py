"""End-to-end tests: the real service as a subprocess, driven over loopback HTTP."""
