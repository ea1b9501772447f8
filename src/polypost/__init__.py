"""Polypost: one API to publish, schedule and track posts across social platforms."""

__version__ = "0.1.0"
