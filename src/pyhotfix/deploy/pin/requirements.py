"""Pinning a requirements file: each hotfixed requirement becomes `==X+hotfix.N` (with --hash
when pip's hash-checking mode allows it), and the hotfix index gets an --extra-index-url line."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pyhotfix.deploy import Deployment, HotfixBuild
from pyhotfix.deploy.export.values import CONSTRAINTS_NAME
from pyhotfix.deploy.pin.judge import compatible, is_exact_pin, refusal
from pyhotfix.deploy.pin.values import PinChange, PinResult
from pyhotfix.deploy.reqfile import (
    INDEX_OPTIONS,
    LogicalLine,
    RequirementsFile,
    parse_text,
)
from pyhotfix.errors import DeployError, UsageError

__all__ = [
    "INDEX_COMMENT",
    "INDEX_MARK",
    "hashes_would_hold",
    "pin_requirements",
    "requirements_gaps",
]

INDEX_MARK = "# pyhotfix: hotfix index"  # how pin recognises the index line it wrote
INDEX_COMMENT = f"{INDEX_MARK}; pip merges it with the others, the +hotfix pins keep them out"


def pin_requirements(
    text: str, path: Path, deployment: Deployment, hashes: bool | None = None
) -> PinResult:
    """`hashes`: True/False force --hash options on the pins; None decides from the file: hashes
    only when pip would not then demand them for requirements that have none."""
    parsed = parse_text(text, path)
    errors: list[str] = []
    targets: list[tuple[LogicalLine, HotfixBuild]] = []
    for line in parsed.requirements():
        assert line.requirement is not None
        build = deployment.get(line.requirement.name)
        if build is None:
            continue
        where = parsed.location(line)
        if line.requirement.url:
            if line.requirement.url == deployment.pinned_url(build):
                continue  # already a URL pin to the current build
            errors.append(
                f"{where}: `{line.requirement_text}` installs {build.name} from a URL, which "
                f"pin does not rewrite. Replace it with `{build.name}=={build.version}` and run "
                f"pin again, or use `pyhotfix export --format direct`. {path.name} was not changed."
            )
        elif not compatible(line.requirement.specifier, build):
            errors.append(refusal(where, line.requirement_text, build, path))
        else:
            targets.append((line, build))
    if errors:
        raise DeployError("\n".join(errors))

    notes: list[str] = []
    use_hashes = hashes
    hash_note = ""
    if use_hashes is None:
        use_hashes, hash_note = _hash_mode(parsed, {b.name for b in deployment.hotfixes})

    replacements: dict[int, tuple[int, str]] = {}
    changes: list[PinChange] = []
    newline = parsed.newline
    for line, build in targets:
        pinned = _pinned_line(line, build, use_hashes, newline)
        if pinned is None:
            continue
        new, summary = pinned
        replacements[line.start] = (line.end, new)
        changes.append(PinChange(build.name, parsed.location(line), line.content, summary))
    if replacements and hash_note:
        notes.append(hash_note)

    index_at, index_end, index_text = _index_line(parsed, deployment, newline, bool(targets))
    if index_at is not None and index_end is not None:
        replacements[index_at] = (index_end, index_text)
        index_at = None
    if index_text:
        changes.insert(
            0, PinChange("(index)", path.name, "", f"--extra-index-url {deployment.index_url}")
        )
    out: list[str] = []
    i = 0
    while i < len(parsed.lines):
        if index_at == i:
            out.append(index_text)
        if i in replacements:
            end, new = replacements[i]
            out.append(new)
            i = end
            continue
        out.append(parsed.lines[i])
        i += 1
    if index_at is not None and index_at >= len(parsed.lines):
        if out and not out[-1].endswith(("\n", "\r")):
            out[-1] += newline
        out.append(index_text)

    named = {canonicalize_name(r.requirement.name) for r in parsed.requirements() if r.requirement}
    for build in deployment.hotfixes:
        if build.name not in named:
            notes.append(
                f"{build.name} is not in {path.name}. If a dependency pulls it in, pip takes "
                f"upstream's build: add a line `{build.name}=={build.version}` and run pin again, "
                "or use `pyhotfix export --format constraints`."
            )
    new_text = "".join(out)
    return PinResult(path, new_text, new_text != text, tuple(changes), tuple(notes))


def _hash_mode(parsed: RequirementsFile, hotfixed: set[str]) -> tuple[bool, str]:
    """Whether --hash can be added without breaking the install: pip turns hash-checking on for
    every requirement once one line has a hash."""
    # A file with any hash (ours from an earlier `pin --hashes` included) is in that mode already.
    if any(
        line.hashes or "--require-hashes" in (o.name for o in line.options)
        for line in parsed.logical
    ):
        return True, ""
    unhashed: list[str] = []
    for line in parsed.logical:
        if line.requirement is not None:
            if canonicalize_name(line.requirement.name) not in hotfixed and not line.hashes:
                unhashed.append(line.requirement.name)
        elif (
            line.option_values("--requirement")
            or line.option_values("--editable")
            or (line.error is not None and line.content)
        ):
            unhashed.append(line.content)
    if not unhashed:
        return True, ""
    shown = ", ".join(unhashed[:5]) + (", …" if len(unhashed) > 5 else "")
    return False, (
        f"No --hash on the pins: one hash turns on pip's hash-checking mode for the whole install, "
        f"and {shown} in {parsed.path.name} {'has' if len(unhashed) == 1 else 'have'} none. The "
        "exact +hotfix version already keeps PyPI's releases out (PyPI refuses local versions), "
        "but not another build under the same version from any other index the deployment "
        "configures (a mirror, PIP_INDEX_URL): pip has no index priority. To pin by hash as "
        "well, first give every other requirement its hashes (e.g. generate the file with "
        "`uv pip compile --generate-hashes`), then run `pyhotfix pin -r "
        f"{parsed.path}`; or pin by URL and sha256 without that mode: `pyhotfix export --format "
        "constraints -o hotfix-constraints.txt` and install with `-c hotfix-constraints.txt`."
    )


def hashes_would_hold(path: Path, deployment: Deployment) -> bool:
    """Whether `pyhotfix pin -r path --hashes` leaves a file pip installs: one hash turns on
    hash-checking for every requirement, so every requirement pin does not pin must have its own
    (what the default of `pin` decides too). False when the file cannot be read or is TOML."""
    if path.suffix == ".toml":
        return False
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    hotfixed = {b.name for b in deployment.hotfixes}
    return _hash_mode(parse_text(text, path), hotfixed)[0]


def _pinned_line(
    line: LogicalLine, build: HotfixBuild, hashes: bool, newline: str
) -> tuple[str, str] | None:
    """The new physical lines for `line` and a one-line summary, or None when it is already
    exactly this pin."""
    req = line.requirement
    assert req is not None
    wanted = sorted(f"sha256:{f.sha256}" for f in build.files) if hashes else []
    other = [o for o in line.options if o.name != "--hash"]
    if is_exact_pin(req, build) and sorted(line.hashes) == wanted:
        return None
    written = line.requirement_text
    name = written[: len(req.name)] if written.lower().startswith(req.name.lower()) else req.name
    head = name
    if req.extras:
        head += "[" + ",".join(sorted(req.extras)) + "]"
    head += f"=={build.hotfix_version}"
    if req.marker is not None:
        marker = written.split(";", 1)[1].strip() if ";" in written else str(req.marker)
        head += f"; {marker}"
    for option in other:
        head += f" {option.name}" + (f"={option.value}" if option.value is not None else "")
    comment = f"  {line.comment}" if line.comment else ""
    summary = head + (f" (+{len(wanted)} hashes)" if wanted else "")
    if not wanted:
        return head + comment + newline, summary
    parts = [head, *(f"    --hash={h}" for h in wanted)]
    return f" \\{newline}".join(parts) + comment + newline, summary


def _index_line(
    parsed: RequirementsFile, deployment: Deployment, newline: str, needed: bool
) -> tuple[int | None, int | None, str]:
    """(start, end, text) of the index line to write: insert when end is None, else replace the
    physical lines start..end. (None, None, "") when the file already names the hotfix index."""
    wanted = deployment.index_url.rstrip("/")
    for line in parsed.option_lines():
        for option in INDEX_OPTIONS:
            for value in line.option_values(option):
                if value.rstrip("/") == wanted:
                    return None, None, ""
    if not needed:
        return None, None, ""
    text = f"--extra-index-url {deployment.index_url}{newline}"
    # An earlier pin's index line (below our comment) moves to the new URL in place.
    for above, line in zip(parsed.logical, parsed.logical[1:], strict=False):
        if above.comment.startswith(INDEX_MARK) and line.option_values("--extra-index-url"):
            return line.start, line.end, text
    # Next to the file's own index lines if it has some, else above its first requirement.
    index_lines = [
        line for line in parsed.option_lines() if any(line.option_values(o) for o in INDEX_OPTIONS)
    ]
    if index_lines:
        at = index_lines[-1].end
    else:
        at = next((line.start for line in parsed.logical if line.content), len(parsed.lines))
    return at, None, f"{INDEX_COMMENT}{newline}{text}"


def requirements_gaps(path: Path, deployment: Deployment) -> tuple[str, ...]:
    """The hotfixes a `pip install -r path` would not be held to: named by no requirement or
    constraint that only the hotfix build satisfies, in the file, the files it includes (`-r`,
    `-c`) or the PIP_CONSTRAINT of `.s2i/environment` beside it. A dependency that pulls such a
    package in gets upstream's build (or a mirror's), whatever the file says about others."""
    from pyhotfix.deploy.appconfig import read_requirements_config
    from pyhotfix.deploy.verify import read_env_file

    s2i_env = path.parent / ".s2i" / "environment"
    hotfixed = {b.name for b in deployment.hotfixes}
    try:
        env = read_env_file(s2i_env) if s2i_env.is_file() else {}
        config = read_requirements_config(path, env, path.parent, hotfixed)
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{path} or a file it includes (-r, -c, .s2i/environment) is not UTF-8 ({exc.reason} "
            f"at byte {exc.start}). pip reads them as UTF-8: fix the file and check again."
        ) from exc
    gaps: list[str] = []
    for build in deployment.hotfixes:
        pins = config.pins_for(build.name)
        if any(_holds(pin.specifier, pin.url, build) for pin in pins):
            continue
        found = config.describe_pins(build.name)
        gaps.append(
            f"{build.name}: {found}, and nothing pins it to the hotfix build, so pip takes "
            f"upstream's {build.name} (or another index's) wherever a dependency pulls it in. Add "
            f"`{build.name}=={build.version}` to {path.name} and run `pyhotfix pin -r {path}`, or "
            f"pin it by URL and sha256: `pyhotfix export --format constraints -o "
            f"{CONSTRAINTS_NAME}` and a line `-c {CONSTRAINTS_NAME}` in {path.name}."
        )
    return tuple(gaps)


def _holds(specifier: SpecifierSet, url: str | None, build: HotfixBuild) -> bool:
    """Does this requirement or constraint admit the hotfix build alone? An exact `==X+label.N`,
    or a URL whose #sha256= is one of the build's files."""
    if url:
        digest = urlsplit(url).fragment.partition("sha256=")[2]
        return bool(digest) and digest in {f.sha256 for f in build.files}
    specs = list(specifier)
    if len(specs) != 1 or specs[0].operator not in ("==", "==="):
        return False
    try:
        return Version(specs[0].version) == Version(build.hotfix_version)
    except InvalidVersion:
        return False
