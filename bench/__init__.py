"""Benchmarks of the pipeline against bare reference implementations: `python -m bench`."""
