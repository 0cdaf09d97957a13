"""The command line (`crmlog`): see app.py."""

from .app import main

__all__ = ["main"]
