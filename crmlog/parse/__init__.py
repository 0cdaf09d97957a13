"""Parse: raw bytes to a fully read, frozen Message (mail-parser); ADDR-2 from the header
block alone; HTML to text (inscriptis)."""

from .message import HeaderFilter, ParseError, html_to_text, parse

__all__ = ["HeaderFilter", "ParseError", "html_to_text", "parse"]
