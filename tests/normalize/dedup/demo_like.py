"""Offerings shaped like the demo catalog's: moved to normalize.dedup.demo (the benchmark uses it too)."""

from normalize.dedup.demo import demo_offerings

__all__ = ["demo_offerings"]
