"""Property tests of landcover_sdk._redact: no query value or secret survives, and scrubbing is idempotent."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from landcover_sdk._redact import first_line, public_url, redact, strip_queries

_VALUE = st.text(alphabet=st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789%-_.=&"),
                 min_size=8, max_size=60)
_PROSE = st.text(alphabet=st.characters(blacklist_characters="?", blacklist_categories=("Cs",)), max_size=30)
_STOP = st.sampled_from([" ", "'", '"', ")", "\n"])


@settings(max_examples=200, deadline=None)
@given(before=_PROSE, value=_VALUE, stop=_STOP, after=_PROSE)
def test_no_query_value_survives(before: str, value: str, stop: str, after: str) -> None:
    text = f"{before} https://acct.blob.core.windows.net/c/a.tif?sig={value}{stop}{after}"
    # the prose holds no "?", so all that changes is the query, whatever its value
    assert strip_queries(text) == f"{before} https://acct.blob.core.windows.net/c/a.tif?...{stop}{after}"


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=80))
def test_strip_queries_is_idempotent(text: str) -> None:
    once = strip_queries(text)
    assert strip_queries(once) == once
    assert redact(redact(text)) == redact(text)


@settings(max_examples=200, deadline=None)
@given(secret=st.text(min_size=4, max_size=40).filter(lambda s: "*" not in s), before=_PROSE, after=_PROSE)
def test_no_secret_survives(secret: str, before: str, after: str) -> None:
    text = f"{before}{secret}{after}{secret}"
    assert secret not in redact(text, (secret,))


@given(key=_VALUE.filter(lambda v: "&" not in v))
def test_account_keys_and_signatures_are_masked(key: str) -> None:
    text = f"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={key} failed; url ?sv=1&sig={key}"
    assert redact(text) == "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=*** failed; url ?sv=1&sig=***"


def test_public_url_and_question_marks_in_prose() -> None:
    assert public_url("https://h/a.tif?sig=x") == "https://h/a.tif"
    assert public_url("/data/a.tif") == "/data/a.tif"
    assert strip_queries("is it readable? no") == "is it readable? no"


def test_first_line_prefers_gdal_cause() -> None:
    cause = RuntimeError("GDAL: not a TIFF\nmore")
    try:
        try:
            raise cause
        except RuntimeError as inner:
            raise ValueError("See previous exception") from inner
    except ValueError as exc:
        assert first_line(exc) == "GDAL: not a TIFF"
    assert first_line(ValueError("")) == "ValueError"
    assert first_line(ValueError("x" * 500), limit=10) == "x" * 10
