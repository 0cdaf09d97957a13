"""Ingest runs: list, show, undo (LIFE-6)."""

from __future__ import annotations

import click


@click.group()
def runs() -> None:
    """Ingest runs, and undoing the newest (LIFE-6)."""
