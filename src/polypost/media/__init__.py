"""The media library: uploads, verification, quota, cleanup and per-platform fitting."""
