"""`crmlog export`: the CRM's records as CSV, JSON lines or vCard."""

from __future__ import annotations

import click


@click.group()
def export() -> None:
    """Export contacts, companies, deals or e-mails."""
