"""The rules: decide(message, view, settings) -> Decision. Pure: no I/O, no clock, no
adapter library (tests/test_layers.py holds that line)."""

from .engine import decide, decide_unparseable

__all__ = ["decide", "decide_unparseable"]
