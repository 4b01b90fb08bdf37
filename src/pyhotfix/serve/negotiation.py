"""Content negotiation of the simple API pages (PEP 691): which page types a client's Accept
header (or ``?format=``) asks for, best first."""

from __future__ import annotations

from typing import Final

from pyhotfix.simpleapi import (
    HTML_TYPE,
    JSON_TYPE,
    LATEST_HTML_TYPE,
    LATEST_JSON_TYPE,
    TEXT_HTML,
    TEXT_HTML_UTF8,
)

__all__ = ["OFFERS", "WIRE_TYPE", "negotiate"]

# Tie order when the client gives several the same quality: HTML first, as PyPI does, so that
# `Accept: */*` (curl, browsers' fallbacks) gets the page every tool understands.
OFFERS: Final = (TEXT_HTML, HTML_TYPE, JSON_TYPE)
_ALIASES: Final = {
    LATEST_JSON_TYPE: JSON_TYPE,
    LATEST_HTML_TYPE: HTML_TYPE,
}
# The Content-Type sent for each offer (text/html with its charset).
WIRE_TYPE: Final = {
    TEXT_HTML: TEXT_HTML_UTF8,
    HTML_TYPE: HTML_TYPE,
    JSON_TYPE: JSON_TYPE,
}


def negotiate(accept: str | None) -> list[str]:
    """Page types the client accepts, best first (PEP 691); [] when none (→ 406).

    No or an empty Accept header means anything, which is HTML first.
    """
    if accept is None or not accept.strip():
        return list(OFFERS)
    quality = dict.fromkeys(OFFERS, (-1, 0.0))  # (specificity, q) of the best matching range
    for part in accept.split(","):
        media, *params = part.split(";")
        media = media.strip().lower()
        media = _ALIASES.get(media, media)
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = -1.0
                if not 0.0 <= q <= 1.0:
                    q = -1.0  # malformed: the range is ignored
        if q < 0:
            continue
        for offer in OFFERS:
            if media == offer:
                rank = 3
            elif media == offer.split("/")[0] + "/*":
                rank = 2
            elif media == "*/*":
                rank = 1
            else:
                continue
            if rank > quality[offer][0]:
                quality[offer] = (rank, q)
    ranked = sorted(
        (o for o in OFFERS if quality[o][1] > 0), key=lambda o: -quality[o][1]
    )  # sorted() is stable: equal qualities keep the HTML-first order
    return ranked
