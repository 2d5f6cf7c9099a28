"""Tagcloud: customer tags and precision marketing for mobile operators."""

__version__ = "0.1.0"
