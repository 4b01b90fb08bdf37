"""Deploying hotfixes: what a deployment must install (from the lock) and where it reaches it.

`export` writes configuration for each way people deploy Python, `pin` rewrites an application's
own requirements, `verify` installs them in fresh environments and checks the result. All three
start from a `Deployment`: the current hotfix builds in `hotfixes.lock` and the URL of the hotfix
index as deployments see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from pyhotfix.errors import DeployError, UsageError
from pyhotfix.hotfixversion import HotfixVersion
from pyhotfix.lock import LockedFile, lock_path, read_lock
from pyhotfix.manifest import Manifest, load_manifest

__all__ = [
    "Deployment",
    "HotfixBuild",
    "index_roots",
    "load_deployment",
    "normalize_index_url",
]


@dataclass(frozen=True)
class HotfixBuild:
    """One hotfix as built: the files a deployment must end up installing."""

    name: str  # canonical (PEP 503) name
    version: str  # the upstream release that was patched
    hotfix_version: str  # <version>+<label>.<N>
    label: str
    files: tuple[LockedFile, ...]

    @property
    def wheel(self) -> LockedFile | None:
        return next((f for f in self.files if f.filename.endswith(".whl")), None)

    @property
    def sdist(self) -> LockedFile | None:
        return next((f for f in self.files if not f.filename.endswith(".whl")), None)

    @property
    def wheel_is_pure(self) -> bool:
        wheel = self.wheel
        if wheel is None:
            return False
        tags = parse_wheel_filename(wheel.filename)[3]
        return all(t.abi == "none" and t.platform == "any" for t in tags)

    def install_file(self) -> LockedFile:
        """The one file a URL pin names: the wheel if it installs anywhere, else the sdist (which
        builds on the target), else a platform wheel."""
        chosen = self.wheel if self.wheel_is_pure or self.sdist is None else self.sdist
        if chosen is None:  # a lock entry always has files; guard against a hand-edited one
            raise DeployError(
                f"hotfixes.lock lists no files for {self.name}. Run `pyhotfix build {self.name}`."
            )
        return chosen

    def number(self) -> int | None:
        return hotfix_number(self.hotfix_version, self.label)


@dataclass(frozen=True)
class Deployment:
    manifest_path: Path
    index_url: str  # the hotfix index's simple URL as deployments reach it; ends with "/"
    local_root: Path | None  # the directory holding the built files on this machine, if any
    target_root: Path | None  # the configured index, when it is a local directory
    hotfixes: tuple[HotfixBuild, ...]

    @property
    def directory(self) -> Path:
        return self.manifest_path.parent

    def get(self, name: str) -> HotfixBuild | None:
        canon = canonicalize_name(name)
        return next((h for h in self.hotfixes if h.name == canon), None)

    def project_url(self, build: HotfixBuild) -> str:
        return f"{self.index_url}{build.name}/"

    def file_url(self, build: HotfixBuild, file: LockedFile) -> str:
        # `+` must be percent-encoded: S3 and several CDNs read a raw `+` in a path as a space.
        return f"{self.project_url(build)}{quote(file.filename, safe='')}"

    def pinned_url(self, build: HotfixBuild) -> str:
        """A PEP 508 direct-reference URL: the file, checked by the installer against its sha256."""
        file = build.install_file()
        return f"{self.file_url(build, file)}#sha256={file.sha256}"

    def local_file(self, build: HotfixBuild, file: LockedFile) -> Path | None:
        if self.local_root is None:
            return None
        path = self.local_root / "simple" / build.name / file.filename
        return path if path.is_file() else None


def hotfix_number(version: str, label: str) -> int | None:
    """N of `<X>+<label>.<N>`, or None when `version` is not such a hotfix version."""
    parsed = HotfixVersion.parse(version)
    return parsed.number if parsed is not None and parsed.label == label else None


def index_roots(manifest: Manifest) -> tuple[Path | None, Path | None]:
    """(the configured index's directory when it is one, the directory holding the built files).

    A remote publish target (bucket, upload API) has no directory here: deployments' URL must then
    be given, and the built files are read from where `build` left them (`publish.source_index`).
    """
    from pyhotfix.index import LocalIndex
    from pyhotfix.publish import resolve_target, source_index

    try:
        target = resolve_target(manifest.settings, manifest.directory)
    except UsageError:
        target = None
    target_root = Path(target.root) if isinstance(target, LocalIndex) else None
    try:
        files_root: Path | None = Path(source_index(manifest).root)
    except UsageError:
        files_root = target_root
    return target_root, files_root


def normalize_index_url(value: str) -> str:
    """An index URL as given on the command line, or a directory path, as a URL ending in "/"."""
    value = value.strip()
    if "://" not in value:
        path = Path(value).expanduser()
        if not path.is_dir():
            raise UsageError(
                f"--index-url {value!r} is neither a URL nor an existing directory. Give the URL "
                "deployments use to reach the hotfix index, e.g. https://hotfixes.example.com/simple/."
            )
        if (path / "simple").is_dir():
            path = path / "simple"
        return path.resolve().as_uri() + "/"
    scheme = urlsplit(value).scheme
    if scheme not in ("http", "https", "file"):
        raise UsageError(
            f"--index-url {value!r}: pip and uv read indexes over http, https or file URLs only."
        )
    return value if value.endswith("/") else value + "/"


def load_deployment(manifest_path: Path, index_url: str | None = None) -> Deployment:
    """The manifest's hotfixes as locked, and the URL deployments reach the hotfix index at.

    Every hotfix in the manifest must be built for the version the manifest names: a deployment
    configured from a stale lock would install the wrong build.
    """
    manifest = load_manifest(manifest_path)
    lock = read_lock(lock_path(manifest.path))
    if not manifest.hotfixes:
        raise UsageError(
            f"{manifest.path} has no hotfixes yet. Add one with "
            "`pyhotfix add NAME==VERSION --patch FILE`."
        )
    builds: list[HotfixBuild] = []
    missing: list[str] = []
    for spec in manifest.hotfixes:
        locked = lock.get(spec.name)
        if locked is None or Version(locked.version) != Version(spec.version) or not locked.files:
            missing.append(f"{spec.name} {spec.version}")
            continue
        builds.append(
            HotfixBuild(
                name=spec.name,
                version=locked.version,
                hotfix_version=locked.hotfix_version,
                label=locked.label,
                files=locked.files,
            )
        )
    if missing:
        raise DeployError(
            f"Not built yet (hotfixes.lock has no build of): {', '.join(missing)}. Run "
            "`pyhotfix build` first: deployments can only be pointed at builds that exist."
        )
    target_root, files_root = index_roots(manifest)
    if index_url is None:
        if target_root is None:
            raise UsageError(
                f"[settings] index = {manifest.settings.index!r} is not a local directory, so "
                "pyhotfix cannot tell how deployments reach it. Pass --index-url URL (the simple/ "
                "URL deployments use)."
            )
        url = target_root.joinpath("simple").resolve().as_uri() + "/"
    else:
        url = normalize_index_url(index_url)
    return Deployment(
        manifest_path=manifest.path,
        index_url=url,
        local_root=files_root,
        target_root=target_root,
        hotfixes=tuple(builds),
    )
