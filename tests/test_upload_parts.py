"""The pure parts of `pyhotfix.upload`: registry kinds and their yank advice, `uv publish` output
→ one-paragraph reason, and project-name validation. The registry round trips (real uv, real
pypiserver/devpi) are in test_upload.py."""

from __future__ import annotations

import string
import tempfile
from pathlib import Path
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name

from pyhotfix.distfile import canonical_project
from pyhotfix.errors import PublishError
from pyhotfix.upload.credentials import read_pypirc
from pyhotfix.upload.failures import describe_state, summarize
from pyhotfix.upload.registries import (
    REGISTRIES,
    RegistryKind,
    known_simple_url,
    registry_kind,
    yank_message,
)

FAST = settings(max_examples=150, deadline=None)

CODEARTIFACT = "https://dom-111122223333.d.codeartifact.eu-west-1.amazonaws.com/pypi/repo/"


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://upload.pypi.org/legacy/", "pypi"),
        ("https://test.pypi.org/legacy/", "pypi"),
        (CODEARTIFACT, "codeartifact"),
        ("https://gitlab.example/api/v4/projects/12/packages/pypi", "gitlab"),
        ("https://gitlab.example/api/v4/groups/3/-/packages/pypi", "gitlab"),
        ("https://h.example/artifactory/api/pypi/pypi-local", "artifactory"),
        ("https://nexus.example/repository/hotfixes/", "nexus"),
        ("https://devpi.example/root/dev/", None),  # devpi or generic: asked at +api
        ("https://pypiserver.example/", None),
    ],
)
def test_registry_kind_from_the_upload_url(url: str, kind: RegistryKind | None) -> None:
    assert registry_kind(url) == kind


def test_known_simple_urls() -> None:
    assert known_simple_url("https://upload.pypi.org/legacy/") == "https://pypi.org/simple/"
    assert known_simple_url("https://test.pypi.org/legacy/") == "https://test.pypi.org/simple/"
    assert known_simple_url("https://test.pypi.org/other/") is None
    assert known_simple_url("https://nexus.example/repository/hotfixes/") is None


def test_every_kind_has_yank_and_unyank_advice() -> None:
    assert set(REGISTRIES) == set(get_args(RegistryKind))
    for kind in REGISTRIES:
        for undo in (False, True):
            message = yank_message(
                kind, "hf-demo", "1.0+hotfix.1", CODEARTIFACT, "W", None, undo=undo
            )
            verb = "unyank" if undo else "yank"
            assert message.startswith(f"Cannot {verb} hf-demo 1.0+hotfix.1 on W: ")
            assert "{" not in message and "}" not in message
            assert ("hotfix number (+hotfix.N+1)" in message) is not undo


def test_codeartifact_advice_names_domain_and_repository() -> None:
    yank = yank_message("codeartifact", "hf-demo", "1.0", CODEARTIFACT, "W", "bad", undo=False)
    assert "--domain dom --repository repo" in yank
    assert "--target-status Unlisted" in yank
    assert "(the reason 'bad' cannot be recorded there)" in yank
    unyank = yank_message("codeartifact", "hf-demo", "1.0", CODEARTIFACT, "W", None, undo=True)
    assert "--target-status Published" in unyank


@FAST
@given(
    kind=st.sampled_from(sorted(REGISTRIES)),
    canon=st.text(string.printable, max_size=30),
    version=st.text(string.printable, max_size=20),
)
def test_yank_advice_quotes_names_verbatim(kind: RegistryKind, canon: str, version: str) -> None:
    # Values are substituted into the templates, never read as templates themselves.
    message = yank_message(kind, canon, version, "https://h.example/u/i/", "W", None, undo=False)
    assert f"Cannot yank {canon} {version} on W" in message


def test_summarize_uv_status_and_server_reason() -> None:
    output = (
        "Publishing 1 file to https://h.example/\n"
        "error: Failed to publish `/tmp/x/dist/demo-1.0-py3-none-any.whl` to https://h.example/\n"
        "  Caused by: Upload failed with status code 403 Forbidden. Server says: "
        "<html><body><pre>Not &lt;allowed&gt;</pre></body></html>\n"
    )
    status, reason = summarize(output)
    assert status == 403
    assert "Failed to publish demo-1.0-py3-none-any.whl" in reason
    assert "/tmp/x/dist" not in reason
    assert reason.endswith("Server says: Not <allowed>.")


def test_summarize_405_hint_and_no_error_line() -> None:
    assert summarize("error: POST is not supported by the endpoint\n")[0] == 405
    assert summarize("") == (None, "uv publish failed without saying why.")


@FAST
@given(st.text(max_size=3000))
def test_summarize_never_raises_and_stays_one_bounded_sentence(output: str) -> None:
    status, reason = summarize(output)
    assert status is None or 100 <= status <= 999
    assert len(reason) <= 400
    assert reason.endswith((".", "…"))


def test_describe_state() -> None:
    assert (
        describe_state([], [], ["a.whl"], []) == "Nothing was uploaded. Not on the registry: a.whl."
    )
    state = describe_state(["a.whl"], ["b.whl"], [], ["c.tar.gz"])
    assert state == (
        "Uploaded and verified: a.whl. On the registry with different content (not ours): "
        "b.whl. Already there before, unchanged: c.tar.gz."
    )


@pytest.mark.parametrize("name", ["", "-demo", "demo-", "de mo", "dé", "a/b"])
def test_invalid_project_names_refused(name: str) -> None:
    with pytest.raises(PublishError, match="is not a valid project name"):
        canonical_project(name)


@FAST
@given(st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,20}[A-Za-z0-9])?", fullmatch=True))
def test_valid_project_names_normalized(name: str) -> None:
    assert canonical_project(name) == canonicalize_name(name)


@FAST
@given(
    st.lists(
        st.sampled_from(
            [
                "[distutils]\n",
                "index-servers =\n    pypi\n    private\n",
                "index-servers = missing\n",
                "[private]\n",
                "[pypi]\n",
                "repository = https://h.example/simple/\n",
                "repository =\n",
                "username = u\n",
                "password = p%s{x}\n",
                "[private\n",
                "no section line\n",
                "=\n",
            ]
        ),
        max_size=12,
    )
    | st.text(max_size=300)
)
def test_read_pypirc_returns_repositories_or_a_publish_error(lines: list[str] | str) -> None:
    text = lines if isinstance(lines, str) else "".join(lines)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ".pypirc"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            repos = read_pypirc(path)
        except PublishError as exc:
            assert str(exc).startswith(f"{path} could not be read (")
            return
    for repo in repos:
        assert repo.repository and repo.repository == repo.repository.strip()
        assert repo.username != "" and repo.password != ""


def test_read_pypirc_sections_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / ".pypirc"
    assert read_pypirc(path) == []
    path.write_text(
        "[distutils]\nindex-servers =\n    pypi\n    private\n    absent\n"
        "[private]\nrepository = https://h.example/legacy/ \nusername = me\npassword = 100%\n",
        encoding="utf-8",
    )
    pypi, private = read_pypirc(path)
    assert (pypi.name, pypi.repository, pypi.username, pypi.password) == (
        "pypi",
        "https://upload.pypi.org/legacy/",
        None,
        None,
    )
    assert (private.repository, private.username, private.password) == (
        "https://h.example/legacy/",
        "me",
        "100%",
    )
    assert "100%" not in repr(private)
