"""The HTTP client module: secrets never reach messages or cache keys; httpx loads only when used."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pyhotfix.errors import UpstreamError
from pyhotfix.httpclient import make_client, scrub, strip_credentials


def test_scrub_hides_the_password_raw_and_percent_decoded() -> None:
    url = "https://user:p%40ss@index.example/simple/"
    text = "failed for https://user:p%40ss@index.example/simple/ (password p@ss)"
    assert scrub(text, url) == "failed for https://user:***@index.example/simple/ (password ***)"
    assert scrub("no secret here", "https://index.example/") == "no secret here"


@pytest.mark.parametrize(
    ("url", "stripped"),
    [
        ("https://user:pw@index.example/simple/", "https://index.example/simple/"),
        ("https://TOKEN@index.example:8443/x", "https://index.example:8443/x"),
        ("https://index.example/simple/", "https://index.example/simple/"),
        ("http://u:pw@[::1/x", "http://[::1/x"),  # unparseable (broken IPv6): still stripped
    ],
)
def test_strip_credentials(url: str, stripped: str) -> None:
    assert strip_credentials(url) == stripped


def test_an_invalid_url_is_a_clear_error_without_the_password() -> None:
    with pytest.raises(UpstreamError, match="is not a valid URL") as info:
        make_client("https://user:s3cret@[::1/")
    assert "s3cret" not in str(info.value)


def test_importing_the_module_does_not_import_httpx() -> None:
    code = "import sys, pyhotfix.httpclient, pyhotfix.simpleapi; print('httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
