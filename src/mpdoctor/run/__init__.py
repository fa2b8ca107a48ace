"""Launching and supervising the target."""
