"""Parse: raw bytes to a fully read, frozen Message (mail-parser), with what the forward path
reads prepared for the messages that take it; ADDR-2 from the header block alone; HTML to
text (inscriptis)."""

from .html import html_to_text
from .message import parse, parse_for_inspection
from .mime import ParseError
from .prefilter import HeaderFilter

__all__ = ["HeaderFilter", "ParseError", "html_to_text", "parse", "parse_for_inspection"]
