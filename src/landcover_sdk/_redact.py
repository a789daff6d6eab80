"""Keeping secrets out of messages: masked keys and signatures, URLs without query strings, short error lines.

Every message that can name a storage URL, an imagery href or a raw exception text goes through these helpers,
so that a SAS token or an account key never reaches a log, an HTTP response or an exception.
"""

from __future__ import annotations

import re

_SECRET_PATTERNS = (
    re.compile(r"(AccountKey=)[^;\s]+", re.IGNORECASE),
    re.compile(r"(SharedAccessSignature=)[^;\s]+", re.IGNORECASE),
    re.compile(r"([?&]sig=)[^&\s'\"]+", re.IGNORECASE),
    re.compile(r"(Authorization:?\s*'?\"?\s*(?:SharedKey|Bearer)\s+)[^\s'\"]+", re.IGNORECASE),
)

# A query string runs from "?" up to whitespace, a quote or a closing parenthesis (how URLs sit in GDAL's and
# our own messages). At least one character must follow, so a question mark ending a sentence is kept; "?..."
# itself matches and maps to itself, which makes strip_queries idempotent.
_QUERY = re.compile(r"\?[^\s)'\"]+")
_ELIDED = "?..."


def redact(text: str, secrets: tuple[str, ...] | list[str] = ()) -> str:
    """``text`` with account keys, SAS signatures, bearer tokens and the given secrets masked as ``***``.

    Args:
        text: a message.
        secrets: strings to mask wherever they appear (those shorter than 4 characters are ignored).
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(r"\1***", text)
    return text


def strip_queries(text: str) -> str:
    """``text`` with every URL query string (where SAS tokens travel) replaced by ``?...``.

    Args:
        text: a message that may contain URLs.
    """
    return _QUERY.sub(_ELIDED, text)


def public_url(url: str) -> str:
    """``url`` without its query string (where a signature would be): the name to show for it.

    Args:
        url: a URL or path.
    """
    return url.split("?", 1)[0]


def first_line(exc: BaseException, limit: int | None = 200) -> str:
    """The first line of an error, GDAL's own explanation where rasterio chained it.

    Args:
        exc: the exception.
        limit: most characters kept (``None``: the whole line).
    """
    # rasterio's "See previous exception" messages carry GDAL's own explanation as the cause
    if "previous exception" in str(exc) and exc.__cause__ is not None:
        exc = exc.__cause__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:limit]
