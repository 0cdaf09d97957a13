"""HTML to text (inscriptis): an HTML body as the text a reader sees, for the forward path."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache


@lru_cache(maxsize=1)
def _html_renderer() -> Callable[[str], str]:
    """inscriptis and its configuration, loaded when a first HTML body is rendered (most runs
    render none)."""
    from inscriptis import get_text
    from inscriptis.css_profiles import CSS_PROFILES
    from inscriptis.model.config import ParserConfig

    config = ParserConfig(css=CSS_PROFILES["strict"], display_links=True)
    return lambda html: str(get_text(html, config))


_MAILTO_LINK = re.compile(r"\[([^\]\n]*)\]\(mailto:([^)\s?]*)[^)\s]*\)", re.I)
_OTHER_LINK = re.compile(r"\[([^\]\n]*)\]\((?:https?|ftp|cid|tel|file):[^)\s]*\)", re.I)


def html_to_text(html: str) -> str:
    """Render an HTML body as the text a reader sees: block elements on their own lines,
    tables as aligned columns. An address that survives only in a `mailto:` link is kept
    after the link text, as `text <address>`."""
    if not html.strip():
        return ""
    try:
        text = _html_renderer()(html)
    except Exception:  # lxml gives up on some broken markup: read it as tag-free text
        text = re.sub(r"<[^>]*>", " ", html)

    def mailto(m: re.Match[str]) -> str:
        label, address = m.group(1).strip(), m.group(2).strip()
        if not address or address.lower() in label.lower():
            return label
        return f"{label} <{address}>" if label else address

    text = _OTHER_LINK.sub(lambda m: m.group(1), _MAILTO_LINK.sub(mailto, text))
    return "\n".join(line.rstrip() for line in text.replace("\xa0", " ").splitlines())
