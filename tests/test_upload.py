"""Publishing by upload to real registries (devpi-server, pypiserver) started on 127.0.0.1."""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from pyhotfix.errors import PublishError, UsageError
from pyhotfix.upload import (
    Credentials,
    PypircRepo,
    Runner,
    RunResult,
    UploadTarget,
    read_pypirc,
    resolve_credentials,
    run_subprocess,
)
from tests.conftest import Pyhotfix, Venv
from tests.support.apps import make_app
from tests.support.dists import make_sdist, make_wheel
from tests.support.registries import Registry, start_devpi, start_pypiserver

VERSION = "1.0+hotfix.1"


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pypiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with start_pypiserver(tmp_path_factory.mktemp("pypiserver")) as registry:
        yield registry


@pytest.fixture(scope="module")
def devpi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with start_devpi(tmp_path_factory.mktemp("devpi")) as registry:
        yield registry


@pytest.fixture(scope="module")
def hashless(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A pypiserver whose pages carry no #sha256= (pyhotfix must download and hash)."""
    with start_pypiserver(tmp_path_factory.mktemp("hashless"), hashes=False) as registry:
        yield registry


# devpi takes a few seconds to start and ~0.5 s per authenticated request (argon2 by design).
@pytest.fixture(params=["pypiserver", pytest.param("devpi", marks=pytest.mark.slow)])
def registry(request: pytest.FixtureRequest) -> Registry:
    reg: Registry = request.getfixturevalue(request.param)
    return reg


@pytest.fixture
def name() -> str:
    """A project name of its own for each test: the registries are shared by a module."""
    return f"hf-{secrets.token_hex(4)}"


class Recorder:
    """The real runner, recording every command and its environment."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, str]]] = []

    def __call__(self, argv: Sequence[str], env: Mapping[str, str]) -> RunResult:
        self.calls.append((list(argv), dict(env)))
        return run_subprocess(argv, env)


def base_env(**extra: str) -> dict[str, str]:
    """The process environment without any upload credentials, plus `extra`."""
    prefixes = ("UV_PUBLISH_", "TWINE_", "PYHOTFIX_UPLOAD_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return {**env, **extra}


def creds_env(registry: Registry, password: str | None = None) -> dict[str, str]:
    return base_env(
        PYHOTFIX_UPLOAD_USERNAME=registry.username,
        PYHOTFIX_UPLOAD_PASSWORD=password if password is not None else registry.password,
    )


def target(
    registry: Registry,
    tmp_path: Path,
    env: Mapping[str, str] | None = None,
    *,
    upload_url: str | None = None,
    simple_url: str | None = None,
    runner: Runner = run_subprocess,
    verify_timeout: float = 15.0,
) -> UploadTarget:
    return UploadTarget(
        upload_url or registry.upload_url,
        simple_url=simple_url,
        runner=runner,
        environ=creds_env(registry) if env is None else env,
        pypirc=tmp_path / "no-pypirc",  # never the developer's own ~/.pypirc
        verify_timeout=verify_timeout,
    )


def dists(dest: Path, name: str, body: str = "") -> list[Path]:
    """A real `+hotfix` sdist and wheel of `name`; other `body` -> other bytes, same names."""
    return [make_sdist(dest, name, VERSION, body=body), make_wheel(dest, name, VERSION, body=body)]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def uv_upload(registry: Registry, path: Path) -> None:
    """Another publisher's upload, straight with uv (no pyhotfix checks)."""
    from uv import find_uv_bin

    argv = [find_uv_bin(), "publish", "--no-config", "--trusted-publishing", "never"]
    argv += ["--publish-url", registry.upload_url, str(path)]
    env = base_env(UV_PUBLISH_USERNAME=registry.username, UV_PUBLISH_PASSWORD=registry.password)
    done = run_subprocess(argv, env)
    assert done.returncode == 0, done.output


def assert_no_secret(registry: Registry, *texts: str) -> None:
    for text in texts:
        assert registry.password not in text


# -- publishing, then installing with pip -------------------------------------------------------


@pytest.mark.slow
def test_publish_then_pip_install(
    registry: Registry, tmp_path: Path, name: str, venv: Venv
) -> None:
    files = dists(tmp_path / "dist", name)
    upload = target(registry, tmp_path)
    assert upload.description == registry.upload_url
    assert upload.simple_url() == registry.simple_url  # devpi's found through its +api

    result = upload.publish(name, files)

    assert result.project == name
    assert set(result.added) == {f.name for f in files}
    assert result.unchanged == ()
    entries = {e.filename: e for e in upload.project_entries(name)}
    assert {f: e.sha256 for f, e in entries.items()} == {f.name: sha256(f) for f in files}
    assert upload.has_files(name, [f.name for f in files], {f.name: sha256(f) for f in files})
    assert not upload.has_files(name, [f.name for f in files], {files[0].name: "0" * 64})

    done = venv.pip("install", "--index-url", registry.simple_url, f"{name}==1.0")
    assert done.returncode == 0, done.stdout + done.stderr
    module = name.replace("-", "_")
    installed = venv.run(
        f"import importlib.metadata as m, {module}; print(m.version({name!r}), {module}.VERSION)"
    )
    assert installed == f"{VERSION} {VERSION}"


def test_same_bytes_is_a_no_op(registry: Registry, tmp_path: Path, name: str) -> None:
    files = dists(tmp_path / "dist", name)
    runner = Recorder()
    upload = target(registry, tmp_path, runner=runner)
    upload.publish(name, files)
    assert len(runner.calls) == 2  # one `uv publish` per file

    again = upload.publish(name, files)

    assert again.added == ()
    assert set(again.unchanged) == {f.name for f in files}
    assert len(runner.calls) == 2  # nothing sent the second time


def test_other_bytes_refused_before_uploading(
    registry: Registry, tmp_path: Path, name: str
) -> None:
    first = dists(tmp_path / "first", name)
    target(registry, tmp_path).publish(name, first)
    other = dists(tmp_path / "other", name, body="FIXED = True\n")
    assert [f.name for f in other] == [f.name for f in first]
    runner = Recorder()

    with pytest.raises(PublishError) as caught:
        target(registry, tmp_path, runner=runner).publish(name, other)

    message = str(caught.value)
    assert "same name but different content" in message
    assert first[1].name in message and first[0].name in message
    assert "Nothing was uploaded" in message
    assert "Bump the hotfix number" in message
    assert runner.calls == []  # refused by the check, the registry never saw a request
    entries = target(registry, tmp_path).project_entries(name)
    assert {e.filename: e.sha256 for e in entries} == {f.name: sha256(f) for f in first}
    assert_no_secret(registry, message)


def test_registry_refusal_reported_when_the_check_is_bypassed(
    registry: Registry, tmp_path: Path, name: str
) -> None:
    """Another publisher uploads the sdist with other bytes between our check and our upload:
    our wheel goes up, the registry refuses our sdist, and the message says exactly that."""
    ours = dists(tmp_path / "ours", name)
    theirs = make_sdist(tmp_path / "theirs", name, VERSION, body="THEIRS = 1\n")

    def racing(argv: Sequence[str], env: Mapping[str, str]) -> RunResult:
        if not raced:
            raced.append(True)
            uv_upload(registry, theirs)
        return run_subprocess(argv, env)

    raced: list[bool] = []

    with pytest.raises(PublishError) as caught:
        target(registry, tmp_path, runner=racing).publish(name, ours)

    message = str(caught.value)
    sdist, wheel = ours
    assert f"Uploaded and verified: {wheel.name}." in message
    assert f"On the registry with different content (not ours): {sdist.name}." in message
    assert "409" in message  # the registry's own answer, quoted
    assert "already exists" in message  # ... with its reason
    assert "Bump the hotfix number" not in message  # that advice is for our own check
    assert "never overwritten" in message
    assert_no_secret(registry, message)
    entries = {e.filename: e.sha256 for e in target(registry, tmp_path).project_entries(name)}
    assert entries == {wheel.name: sha256(wheel), sdist.name: sha256(theirs)}


def test_concurrent_identical_upload_is_success(
    registry: Registry, tmp_path: Path, name: str
) -> None:
    """The same bytes uploaded by someone else meanwhile: the registry says "exists", the
    files are verified on its page, and the publish succeeds."""
    files = dists(tmp_path / "dist", name)

    def racing(argv: Sequence[str], env: Mapping[str, str]) -> RunResult:
        if not raced:
            raced.append(True)
            uv_upload(registry, files[1])  # the wheel, which goes first
        return run_subprocess(argv, env)

    raced: list[bool] = []

    result = target(registry, tmp_path, runner=racing).publish(name, files)
    assert set(result.added) == {f.name for f in files}


def test_publish_command(registry: Registry, tmp_path: Path, pyhotfix: Pyhotfix) -> None:
    """`pyhotfix publish --upload URL` end to end, as a user runs it: the built files of the
    lock go up, a wrong password is a clear error, and no password is ever printed."""
    app = make_app(tmp_path)  # My_Pkg.Extra 1.0+hotfix.1, built and locked
    home = tmp_path / "home"  # no ~/.pypirc of the developer's
    home.mkdir()
    wrong = f"wrong-{secrets.token_hex(8)}"
    env = {"HOME": str(home), "PYHOTFIX_UPLOAD_USERNAME": registry.username}

    bad = pyhotfix(
        "publish",
        "--upload",
        registry.upload_url,
        cwd=app,
        env={**env, "PYHOTFIX_UPLOAD_PASSWORD": wrong},
    )
    assert bad.code == 1, bad.output
    assert "refused the credentials" in bad.stderr and "Nothing was uploaded." in bad.stderr
    assert "Traceback" not in bad.output and wrong not in bad.output

    env["PYHOTFIX_UPLOAD_PASSWORD"] = registry.password
    run = pyhotfix("publish", "--upload", registry.upload_url, cwd=app, env=env)
    assert run.code == 0, run.output
    assert f"Published to {registry.upload_url}:" in run.stdout
    assert run.stdout.count("added") == 2
    assert_no_secret(registry, run.output, bad.output)

    # `[settings] index` + `upload = true` make the registry the default target.
    (tmp_path / "second").mkdir()
    default = make_app(tmp_path / "second", f'index = "{registry.upload_url}"\nupload = true\n')
    again = pyhotfix("publish", cwd=default, env=env)
    assert again.code == 0, again.output
    assert again.stdout.count("unchanged") == 2
    yank = pyhotfix("yank", "My_Pkg.Extra", VERSION, cwd=default, env=env)
    assert yank.code == 1 and "Cannot yank my-pkg-extra 1.0+hotfix.1" in yank.stderr
    assert_no_secret(registry, again.output, yank.output)


# -- errors -------------------------------------------------------------------------------------


def test_wrong_credentials(registry: Registry, tmp_path: Path, name: str) -> None:
    files = dists(tmp_path / "dist", name)
    wrong = f"wrong-{secrets.token_hex(8)}"
    upload = target(registry, tmp_path, env=creds_env(registry, password=wrong))

    with pytest.raises(PublishError) as caught:
        upload.publish(name, files)

    message = str(caught.value)
    assert "refused the credentials" in message
    assert "password from PYHOTFIX_UPLOAD_PASSWORD" in message
    assert "PYHOTFIX_UPLOAD_USERNAME and PYHOTFIX_UPLOAD_PASSWORD" in message
    assert "Nothing was uploaded." in message
    assert wrong not in message
    assert_no_secret(registry, message)
    assert target(registry, tmp_path).project_entries(name) == []
    assert not set(registry.stored_files()) & {f.name for f in files}


def test_no_credentials(registry: Registry, tmp_path: Path, name: str) -> None:
    upload = target(registry, tmp_path, env=base_env())

    with pytest.raises(PublishError) as caught:
        upload.publish(name, dists(tmp_path / "dist", name))

    message = str(caught.value)
    assert "no credentials were found" in message
    assert "Nothing was uploaded." in message


def test_wrong_upload_url(registry: Registry, tmp_path: Path, name: str) -> None:
    files = dists(tmp_path / "dist", name)
    wrong = registry.upload_url + "nope/"

    # Derived from the wrong URL, the simple index is missing too: caught before uploading.
    with pytest.raises(PublishError, match=r"simple index was not found") as caught:
        target(registry, tmp_path, upload_url=wrong).publish(name, files)
    assert "Nothing was uploaded." in str(caught.value)

    # With the right simple URL, the registry itself refuses the upload (404 or 405).
    upload = target(registry, tmp_path, upload_url=wrong, simple_url=registry.simple_url)
    with pytest.raises(PublishError) as caught:
        upload.publish(name, files)
    message = str(caught.value)
    assert "Check the upload URL" in message
    assert "404" in message or "405" in message
    assert "Nothing was uploaded." in message
    assert target(registry, tmp_path).project_entries(name) == []


def test_unreachable_registry(tmp_path: Path, name: str) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    runner = Recorder()
    upload = UploadTarget(
        f"http://127.0.0.1:{port}/", environ=base_env(), pypirc=tmp_path / "x", runner=runner
    )
    started = time.monotonic()

    with pytest.raises(PublishError) as caught:
        upload.publish(name, dists(tmp_path / "dist", name))

    message = str(caught.value)
    assert message.startswith(f"Could not reach the registry at http://127.0.0.1:{port}/")
    assert "Nothing was uploaded." in message
    assert runner.calls == []
    assert time.monotonic() - started < 10


def test_accepted_but_not_listed(
    pypiserver: Registry, hashless: Registry, tmp_path: Path, name: str
) -> None:
    """Uploaded to one registry while reading another's simple index: the check after the
    upload notices that the files are not where pip will look."""
    files = dists(tmp_path / "dist", name)
    upload = target(pypiserver, tmp_path, simple_url=hashless.simple_url, verify_timeout=0.5)

    with pytest.raises(PublishError) as caught:
        upload.publish(name, files)

    message = str(caught.value)
    assert "accepted the upload, but its simple index" in message
    assert hashless.simple_url in message
    assert f"Not on the registry: {files[1].name}, {files[0].name}." in message


def test_two_files_with_one_name(tmp_path: Path, name: str) -> None:
    first = make_wheel(tmp_path / "a", name, VERSION)
    second = make_wheel(tmp_path / "b", name, VERSION, body="X = 1\n")
    upload = UploadTarget("http://127.0.0.1:9/", environ=base_env(), pypirc=tmp_path / "x")
    with pytest.raises(PublishError, match="Two different files named"):
        upload.publish(name, [first, second])  # refused before any network access
    with pytest.raises(PublishError, match="is a file of other-project"):
        upload.publish(name, [make_wheel(tmp_path / "c", "other-project", VERSION)])


# -- registries without hashes ------------------------------------------------------------------


def test_registry_without_hashes(hashless: Registry, tmp_path: Path, name: str) -> None:
    files = dists(tmp_path / "dist", name)
    runner = Recorder()
    upload = target(hashless, tmp_path, runner=runner)
    assert upload.publish(name, files).added  # verified by downloading what was uploaded

    assert upload.publish(name, files).added == ()  # same bytes, found by hashing the download
    with pytest.raises(PublishError, match="same name but different content"):
        upload.publish(name, dists(tmp_path / "other", name, body="X = 2\n"))
    assert len(runner.calls) == 2  # the first publish only
    entries = upload.project_entries(name)
    assert {(e.filename, e.sha256, e.size) for e in entries} == {
        (f.name, sha256(f), f.stat().st_size) for f in files
    }


# -- where credentials come from ----------------------------------------------------------------


def test_credentials_from_pypirc(pypiserver: Registry, tmp_path: Path, name: str) -> None:
    pypirc = tmp_path / ".pypirc"
    pypirc.write_text(
        "[distutils]\nindex-servers =\n    pypi\n    hotfixes\n\n"
        f"[hotfixes]\nrepository = {pypiserver.upload_url.rstrip('/')}\n"
        f"username = {pypiserver.username}\npassword = {pypiserver.password}\n"
    )
    by_url = UploadTarget(pypiserver.upload_url, environ=base_env(), pypirc=pypirc)
    assert by_url.publish(name, [make_wheel(tmp_path, name, VERSION)]).added

    # The section's name works as the target, as `twine upload -r hotfixes` does.
    by_name = UploadTarget("hotfixes", environ=base_env(), pypirc=pypirc)
    assert by_name.upload_url == pypiserver.upload_url.rstrip("/")
    assert by_name.publish(name, [make_sdist(tmp_path, name, VERSION)]).added
    with pytest.raises(UsageError, match="nor the name of a repository"):
        UploadTarget("elsewhere", environ=base_env(), pypirc=pypirc)


def test_credentials_from_keyring(pypiserver: Registry, tmp_path: Path, name: str) -> None:
    """`keyring get URL USERNAME`, the protocol uv and twine use, with a stand-in keyring."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "keyring.log"
    script = bin_dir / "keyring"
    script.write_text(
        f'#!/bin/sh\necho "$@" >> {log}\n'
        f'[ "$1" = get ] && [ "$3" = {pypiserver.username} ] && echo {pypiserver.password} && exit 0\n'
        "exit 1\n"
    )
    script.chmod(0o755)
    env = base_env(
        PYHOTFIX_UPLOAD_USERNAME=pypiserver.username,
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    )
    runner = Recorder()
    upload = UploadTarget(pypiserver.upload_url, environ=env, pypirc=tmp_path / "x", runner=runner)

    assert upload.publish(name, dists(tmp_path / "dist", name)).added

    assert log.read_text().split("\n")[0] == f"get {pypiserver.upload_url} {pypiserver.username}"
    for argv, run_env in runner.calls:
        assert run_env["UV_PUBLISH_PASSWORD"] == pypiserver.password
        assert_no_secret(pypiserver, " ".join(argv))


def test_credentials_in_the_url_stay_off_the_command_line(
    pypiserver: Registry, tmp_path: Path, name: str
) -> None:
    url = pypiserver.upload_url.replace(
        "http://", f"http://{pypiserver.username}:{pypiserver.password}@"
    )
    runner = Recorder()
    upload = UploadTarget(url, environ=base_env(), pypirc=tmp_path / "x", runner=runner)
    assert pypiserver.password not in upload.description
    assert f"{pypiserver.username}:***@" in upload.description

    assert upload.publish(name, dists(tmp_path / "dist", name)).added

    assert len(runner.calls) == 2
    for argv, env in runner.calls:
        assert_no_secret(pypiserver, " ".join(argv))  # other users can read a command line
        assert env["UV_PUBLISH_USERNAME"] == pypiserver.username
        assert env["UV_PUBLISH_PASSWORD"] == pypiserver.password


def test_credential_precedence(tmp_path: Path) -> None:
    url = "https://registry.example/repo/"
    pypirc = tmp_path / ".pypirc"
    pypirc.write_text(
        f"[distutils]\nindex-servers = r\n[r]\nrepository = {url}\nusername = rc-user\n"
        "password = rc%pass\n"
    )

    def repos() -> list[PypircRepo]:
        return read_pypirc(pypirc)

    everything = {
        "PYHOTFIX_UPLOAD_USERNAME": "ph-user",
        "PYHOTFIX_UPLOAD_PASSWORD": "ph-pass",
        "UV_PUBLISH_USERNAME": "uv-user",
        "UV_PUBLISH_PASSWORD": "uv-pass",
        "TWINE_USERNAME": "tw-user",
        "TWINE_PASSWORD": "tw-pass",
        "PATH": "",  # no keyring
    }
    order = [
        ("PYHOTFIX_UPLOAD_USERNAME", "PYHOTFIX_UPLOAD_PASSWORD", "ph-user", "ph-pass"),
        ("UV_PUBLISH_USERNAME", "UV_PUBLISH_PASSWORD", "uv-user", "uv-pass"),
        ("TWINE_USERNAME", "TWINE_PASSWORD", "tw-user", "tw-pass"),
    ]
    env = dict(everything)
    for user_var, pass_var, user, password in order:
        creds = resolve_credentials(url, env, repos, ("url-user", "url-pass"))
        assert (creds.username, creds.password) == (user, password)
        assert creds.describe() == f"username from {user_var}, password from {pass_var}"
        del env[user_var], env[pass_var]
    creds = resolve_credentials(url, env, repos, ("url-user", "url-pass"))
    assert (creds.username, creds.password) == ("url-user", "url-pass")
    creds = resolve_credentials(url.rstrip("/"), env, repos)
    assert (creds.username, creds.password) == ("rc-user", "rc%pass")  # raw: no interpolation
    assert "section 'r'" in creds.describe()
    creds = resolve_credentials(url, {"UV_PUBLISH_TOKEN": "tok", "PATH": ""})
    assert (creds.username, creds.password) == ("__token__", "tok")
    assert resolve_credentials(url, {"PATH": ""}).describe() == "no credentials were found"

    def broken() -> list[PypircRepo]:
        raise AssertionError("~/.pypirc must not be read when the environment has both")

    assert resolve_credentials(url, everything, broken).password == "ph-pass"
    hidden = Credentials("u", "s3cret", "X", "Y")
    assert "s3cret" not in repr(hidden) and "s3cret" not in hidden.describe()


# -- simple URL and yanking ---------------------------------------------------------------------


def test_simple_url_rules(tmp_path: Path, pypiserver: Registry) -> None:
    def simple(url: str, simple_url: str | None = None) -> str:
        upload = UploadTarget(url, simple_url=simple_url, environ=base_env(), pypirc=tmp_path / "x")
        return upload.simple_url()

    assert simple("https://upload.pypi.org/legacy/") == "https://pypi.org/simple/"
    assert simple("https://test.pypi.org/legacy/") == "https://test.pypi.org/simple/"
    assert (
        simple("https://h.example/x/", simple_url="https://h.example/s") == "https://h.example/s/"
    )
    assert simple(pypiserver.upload_url) == pypiserver.simple_url  # no devpi +api there
    with pytest.raises(UsageError, match="not an http"):
        UploadTarget("ftp://h.example/", environ=base_env(), pypirc=tmp_path / "x")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://gitlab.example/api/v4/projects/42/packages/pypi", "delete package hf-demo 1.0"),
        ("https://h.example/artifactory/api/pypi/pypi-local", "Artifactory has no yanking"),
        ("https://nexus.example/repository/hotfixes/", "Nexus has no yanking"),
        (
            "https://dom-111122223333.d.codeartifact.eu-west-1.amazonaws.com/pypi/repo/",
            "--domain dom --repository repo --format pypi --package hf-demo --versions 1.0 "
            "--target-status Unlisted",
        ),
        ("https://upload.pypi.org/legacy/", "Options, Yank"),
    ],
)
def test_yank_says_what_to_do_in_the_registry(tmp_path: Path, url: str, expected: str) -> None:
    upload = UploadTarget(url, environ=base_env(), pypirc=tmp_path / "x")  # no network needed
    with pytest.raises(PublishError) as caught:
        upload.yank("HF_Demo", "1.0", "broken")
    message = str(caught.value)
    assert message.startswith(f"Cannot yank hf-demo 1.0 on {url}")
    assert "the reason 'broken' cannot be recorded" in message
    assert expected in message
    with pytest.raises(PublishError, match=r"Cannot unyank hf-demo 1\.0"):
        upload.unyank("hf-demo", "1.0")


@pytest.mark.slow
def test_yank_on_devpi_and_pypiserver(
    devpi: Registry, pypiserver: Registry, tmp_path: Path
) -> None:
    with pytest.raises(PublishError) as caught:
        target(devpi, tmp_path).yank("hf-demo", VERSION, None)
    assert "devpi remove hf-demo==1.0+hotfix.1" in str(caught.value)
    assert "devpi index uploader/hotfix volatile=True" in str(caught.value)
    with pytest.raises(PublishError) as caught:
        target(pypiserver, tmp_path).yank("hf-demo", VERSION, None)
    assert "from its package directory" in str(caught.value)
