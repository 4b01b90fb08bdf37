"""`pyhotfix pin`: rewrite an application's requirements so every hotfixed package is pinned to its
exact hotfix build, keeping everything else (comments, order, options, formatting) byte for byte.

Pinning is a pure function from the file's text to its new text: running it on its own output
changes nothing, and `--check` is "would the text change".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import Specifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pyhotfix._atomic import write_atomic
from pyhotfix.deploy import Deployment, HotfixBuild, hotfix_number
from pyhotfix.deploy.export import INDEX_NAME
from pyhotfix.deploy.reqfile import (
    INDEX_OPTIONS,
    LogicalLine,
    RequirementsFile,
    dependency_requirements,
    parse_text,
)
from pyhotfix.errors import DeployError, UsageError

INDEX_MARK = "# pyhotfix: hotfix index"  # how pin recognises the index line it wrote
INDEX_COMMENT = f"{INDEX_MARK}; pip merges it with the others, the +hotfix pins keep them out"


@dataclass(frozen=True)
class PinChange:
    name: str
    where: str  # "requirements.txt:3" or "pyproject.toml [project] dependencies"
    before: str
    after: str


@dataclass(frozen=True)
class PinResult:
    path: Path
    text: str  # the new content
    changed: bool
    changes: tuple[PinChange, ...]
    notes: tuple[str, ...]  # things the user should know (not errors)


def pin_file(path: Path, deployment: Deployment, hashes: bool | None = None) -> PinResult:
    """Pin `path` (a requirements file, or a pyproject.toml by its name). Writes nothing."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror}.") from exc
    if path.name == "pyproject.toml" or path.suffix == ".toml":
        return pin_pyproject(text, path, deployment)
    return pin_requirements(text, path, deployment, hashes)


def existing_index_url(path: Path) -> str | None:
    """The hotfix index URL an earlier `pin` wrote into `path`, if any: pinning again without
    --index-url keeps it rather than switching to this machine's file:// URL."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    if path.suffix == ".toml":
        try:
            data = tomlkit.parse(text).unwrap()
        except Exception:  # tomlkit's ParseError family; pin itself reports bad TOML
            return None
        tool = data.get("tool", {})
        entries = [*tool.get("uv", {}).get("index", []), *tool.get("poetry", {}).get("source", [])]
        for entry in entries:
            if isinstance(entry, dict) and entry.get("name") == INDEX_NAME and entry.get("url"):
                return str(entry["url"])
        return None
    parsed = parse_text(text, path)
    for above, line in zip(parsed.logical, parsed.logical[1:], strict=False):
        values = line.option_values("--extra-index-url")
        if above.comment.startswith(INDEX_MARK) and values:
            return values[0]
    return None


def write_result(result: PinResult) -> None:
    write_atomic(result.path, result.text.encode("utf-8"))


# -- compatibility ------------------------------------------------------------------------------


def _compatible(specifier: SpecifierSet, build: HotfixBuild) -> bool:
    """Does the app's specifier allow this hotfix? An earlier hotfix pin of ours (==X+label.M)
    counts as asking for X: pin exists to move it to the current build."""
    base = Version(build.version)
    kept: list[str] = []
    for spec in specifier:
        if spec.operator == "==" and "*" not in spec.version:
            try:
                pinned = Version(spec.version)
            except InvalidVersion:
                kept.append(str(spec))
                continue
            ours = hotfix_number(spec.version, build.label) is not None
            if ours and pinned.public == base.public:
                continue  # one of our pins, perhaps stale
        kept.append(str(spec))
    return SpecifierSet(",".join(kept)).contains(Version(build.hotfix_version), prereleases=True)


def _refusal(where: str, written: str, build: HotfixBuild, path: Path) -> str:
    # Every command named here must work as written: `rebase --to` takes a public release other
    # than the hotfix's own, and `retire` refuses unless status finds the fix upstream.
    head = (
        f"{where}: `{written}` asks for a version the hotfix cannot satisfy: the hotfix is "
        f"{build.hotfix_version}, a patched {build.name} {build.version}."
    )
    current = f"`{build.name}=={build.version}`"
    tail = f"{path.name} was not changed."
    wanted = _wanted_release(written)
    parsed = _parse_version(wanted) if wanted is not None else None
    if parsed is None:  # a range, or not a version
        return (
            f"{head} If the app needs another release, see whether it has the fix with "
            f"`pyhotfix status {build.name}`, then retire the hotfix (`pyhotfix retire "
            f"{build.name}`) or carry the patches onto that release (`pyhotfix rebase "
            f"{build.name} --to VERSION`, VERSION the release, e.g. 1.2.3). Otherwise ask for "
            f"{current} and run `pyhotfix pin` again. {tail}"
        )
    if parsed.local is not None:
        public = parsed.public
        if hotfix_number(str(parsed), build.label) is not None:
            what = f"an earlier hotfix build of {build.name} {public}"
        else:
            what = f"a local build of {build.name} {public}, not one of this hotfix's"
        moved = ""
        if Version(public) > Version(build.version):
            moved = (
                f" If the hotfix should follow the app to {public} instead, run `pyhotfix rebase "
                f"{build.name} --to {public}` and then pin."
            )
        return (
            f"{where}: `{written}` pins {what}, but hotfixes.lock now has {build.hotfix_version} "
            f"(for {build.name} {build.version}). Replace it with {current} and run `pyhotfix "
            f"pin` again: pin then writes the current build.{moved} {tail}"
        )
    if parsed == Version(build.version):  # e.g. ===X, which a local version never matches
        return f"{head} Ask for {current} instead (`==` accepts the hotfix build). {tail}"
    return (
        f"{head} If the app has moved on to {wanted}, check whether it contains the fix "
        f"(`pyhotfix status {build.name}`): if it does, retire the hotfix (`pyhotfix retire "
        f"{build.name}`); if not, carry the patches onto it (`pyhotfix rebase {build.name} --to "
        f"{parsed.public}`). Otherwise ask for {build.version} again ({current}). {tail}"
    )


def _parse_version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _wanted_release(written: str) -> str | None:
    """The release an `==X` requirement names, for the message; None for ranges."""
    try:
        specs = list(Requirement(written).specifier)
    except InvalidRequirement:
        specs = []
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        return specs[0].version
    return None


def _is_exact_pin(requirement: Requirement, build: HotfixBuild) -> bool:
    specs = list(requirement.specifier)
    return (
        len(specs) == 1
        and specs[0].operator == "=="
        and _same_version(specs[0].version, build.hotfix_version)
    )


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return False


# -- requirements files -------------------------------------------------------------------------


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
        elif not _compatible(line.requirement.specifier, build):
            errors.append(_refusal(where, line.requirement_text, build, path))
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
        "exact +hotfix version already keeps PyPI's releases out (PyPI refuses local versions). To "
        "pin by hash as well, first give every other requirement its hashes (e.g. generate the "
        f"file with `uv pip compile --generate-hashes`), then run `pyhotfix pin -r "
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
    if _is_exact_pin(req, build) and sorted(line.hashes) == wanted:
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


# -- pyproject.toml -----------------------------------------------------------------------------


def pin_pyproject(text: str, path: Path, deployment: Deployment) -> PinResult:
    try:
        doc = tomlkit.parse(text)
    except Exception as exc:  # tomlkit raises its own ParseError subclasses
        raise UsageError(f"{path} is not valid TOML: {exc}. Fix it and run pin again.") from exc
    errors: list[str] = []
    changes: list[PinChange] = []
    named: set[str] = set()

    def pin_array(array: Any, where: str) -> None:
        if not isinstance(array, list):
            return
        for n, item, req in dependency_requirements(array):
            build = deployment.get(req.name)
            if build is None:
                continue
            named.add(build.name)
            if req.url:
                errors.append(
                    f"{path.name} {where}: `{item}` installs {build.name} from a URL, which pin "
                    f"does not rewrite. Replace it with `{build.name}=={build.version}`."
                )
                continue
            if not _compatible(req.specifier, build):
                errors.append(_refusal(f"{path.name} {where}", item, build, path))
                continue
            if _is_exact_pin(req, build):
                continue
            new = (
                build.name
                if not item.lower().startswith(req.name.lower())
                else item[: len(req.name)]
            )
            if req.extras:
                new += "[" + ",".join(sorted(req.extras)) + "]"
            new += f"=={build.hotfix_version}"
            if req.marker is not None:
                new += f"; {req.marker}"
            array[n] = new
            changes.append(PinChange(build.name, f"{path.name} {where}", item, new))

    project = doc.get("project")
    if isinstance(project, dict):
        pin_array(project.get("dependencies"), "[project] dependencies")
        optional = project.get("optional-dependencies")
        if isinstance(optional, dict):
            for extra, deps in optional.items():
                pin_array(deps, f"[project.optional-dependencies] {extra}")
    groups = doc.get("dependency-groups")
    if isinstance(groups, dict):
        for group, deps in groups.items():
            pin_array(deps, f"[dependency-groups] {group}")

    tool = doc.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    poetry_deps = poetry.get("dependencies") if isinstance(poetry, dict) else None
    if isinstance(poetry_deps, dict):
        _pin_poetry(_PyprojectEdit(doc, deployment, path, named, changes, errors), poetry_deps)
    if errors:
        raise DeployError("\n".join(errors))
    if named and not isinstance(poetry_deps, dict):
        _pin_uv(_PyprojectEdit(doc, deployment, path, named, changes, errors))
    if errors:
        raise DeployError("\n".join(errors))
    notes = [
        f"{b.name} is not a dependency in {path.name}: if a dependency pulls it in, it comes from "
        f"the default index. Add `{b.name}=={b.version}` to the dependencies and run pin again."
        for b in deployment.hotfixes
        if b.name not in named
    ]
    new_text = tomlkit.dumps(doc)
    return PinResult(path, new_text, new_text != text, tuple(changes), tuple(notes))


def _find_or_add_index(parent: Any, key: str, url: str, setting: tuple[str, object]) -> Any:
    """The entry named INDEX_NAME in the array of tables parent[key], or None after adding one
    with `url` and `setting` (uv's explicit = true, Poetry's priority = "explicit")."""
    tables = parent.get(key)
    if tables is None:
        tables = tomlkit.aot()
        parent[key] = tables
    entry = next((t for t in tables if t.get("name") == INDEX_NAME), None)
    if entry is None:
        table = tomlkit.table()
        table.add("name", INDEX_NAME)
        table.add("url", url)
        table.add(*setting)
        tables.append(table)
    return entry


def _super_table(parent: Any, key: str) -> Any:
    if key not in parent:
        parent[key] = tomlkit.table(is_super_table=True)
    return parent[key]


@dataclass(frozen=True)
class _PyprojectEdit:
    """What pinning a pyproject.toml works on: the document, and what it gathers as it goes
    (the hotfixed names it saw, the changes it made, the errors that stop it)."""

    doc: tomlkit.TOMLDocument
    deployment: Deployment
    path: Path
    named: set[str]
    changes: list[PinChange]
    errors: list[str]


def _pin_uv(edit: _PyprojectEdit) -> None:
    """[[tool.uv.index]] "hotfix" (explicit) and [tool.uv.sources] NAME = {index = "hotfix"}."""
    doc, deployment, path, named = edit.doc, edit.deployment, edit.path, edit.named
    changes, errors = edit.changes, edit.errors
    uv = _super_table(_super_table(doc, "tool"), "uv")
    entry = _find_or_add_index(uv, "index", deployment.index_url, ("explicit", True))
    if entry is None:
        changes.append(PinChange("(index)", f"{path.name} [[tool.uv.index]]", "", INDEX_NAME))
    else:
        if entry.get("url") != deployment.index_url:
            changes.append(
                PinChange(
                    "(index)",
                    f"{path.name} [[tool.uv.index]]",
                    str(entry.get("url")),
                    deployment.index_url,
                )
            )
            entry["url"] = deployment.index_url
        if entry.get("explicit") is not True:
            entry["explicit"] = True
    sources = uv.get("sources")
    if sources is None:
        sources = tomlkit.table()
        uv["sources"] = sources
    for name in sorted(named):
        existing = next((v for k, v in sources.items() if canonicalize_name(k) == name), None)
        if (
            isinstance(existing, dict)
            and existing.get("index") == INDEX_NAME
            and len(existing) == 1
        ):
            continue
        if existing is not None:
            errors.append(
                f"{path.name} [tool.uv.sources] already takes {name} from elsewhere "
                f"({tomlkit.dumps({name: existing}).strip()}). Remove that source, then run pin "
                f"again: a hotfixed package must come from the hotfix index. {path.name} was not "
                "changed."
            )
            continue
        source = tomlkit.inline_table()
        source.add("index", INDEX_NAME)
        sources[name] = source
        changes.append(PinChange(name, f"{path.name} [tool.uv.sources]", "", '{index = "hotfix"}'))


def _pin_poetry(edit: _PyprojectEdit, deps: Any) -> None:
    """[[tool.poetry.source]] "hotfix" (priority explicit) and each dependency's version/source."""
    doc, deployment, path, named = edit.doc, edit.deployment, edit.path, edit.named
    changes, errors = edit.changes, edit.errors
    from_project = frozenset(named)  # in [project] dependencies (Poetry 2 reads those too)
    in_project = set(named)
    found = False
    for key in list(deps.keys()):
        build = deployment.get(key)
        if build is None:
            continue
        found = True
        named.add(build.name)
        in_project.discard(build.name)
        value = deps[key]
        where = f"{path.name} [tool.poetry.dependencies] {key}"
        version = value.get("version") if isinstance(value, dict) else value
        if isinstance(value, dict) and ("git" in value or "path" in value or "url" in value):
            errors.append(f"{where} is not an index dependency; pin does not rewrite it.")
            continue
        if isinstance(version, str) and version not in ("*", ""):
            try:
                spec = _poetry_specifier(version)
            except ValueError:
                spec = None
            if spec is not None and not _compatible(spec, build):
                errors.append(_refusal(where, version, build, path))
                continue
        if isinstance(value, dict):
            if value.get("source") == INDEX_NAME and (
                value.get("version") == build.hotfix_version
                or ("version" not in value and build.name in from_project)
            ):
                continue
            before = tomlkit.dumps({key: value}).strip()
            value["version"] = build.hotfix_version
            value["source"] = INDEX_NAME
        else:
            before = f"{key} = {value!r}"
            table = tomlkit.inline_table()
            table.add("version", build.hotfix_version)
            table.add("source", INDEX_NAME)
            deps[key] = table
        changes.append(
            PinChange(build.name, where, before, f"{build.hotfix_version} from {INDEX_NAME}")
        )
    for name in sorted(in_project):
        # Poetry 2: [tool.poetry.dependencies] only adds the source to a [project] dependency.
        only_source = tomlkit.inline_table()
        only_source.add("source", INDEX_NAME)
        deps[name] = only_source
        found = True
        changes.append(
            PinChange(name, f"{path.name} [tool.poetry.dependencies] {name}", "", INDEX_NAME)
        )
    if not found:
        return
    poetry: Any = doc["tool"]["poetry"]
    entry = _find_or_add_index(poetry, "source", deployment.index_url, ("priority", "explicit"))
    if entry is None:
        changes.append(PinChange("(index)", f"{path.name} [[tool.poetry.source]]", "", INDEX_NAME))
    else:
        if entry.get("url") != deployment.index_url:
            entry["url"] = deployment.index_url
        if entry.get("priority") != "explicit":
            entry["priority"] = "explicit"


def _poetry_specifier(version: str) -> SpecifierSet:
    """Poetry's version constraint in PEP 440 terms, for the common forms (^, ~, exact, PEP 440)."""
    version = version.strip()
    if version.startswith("^"):
        base = Version(version[1:])
        release = [*base.release, 0, 0]
        first = next((n for n, part in enumerate(release[:3]) if part != 0), 2)
        upper = release[: first + 1]
        upper[-1] += 1
        return SpecifierSet(f">={base},<{'.'.join(map(str, upper))}")
    if version.startswith("~") and not version.startswith("~="):
        base = Version(version[1:])
        parts = list(base.release)
        upper = [parts[0] + 1] if len(parts) == 1 else [parts[0], parts[1] + 1]
        return SpecifierSet(f">={base},<{'.'.join(map(str, upper))}")
    if version[0].isdigit():
        return SpecifierSet(f"=={version}")
    Specifier(version.split(",")[0].strip())  # raises ValueError when not PEP 440
    return SpecifierSet(version)
