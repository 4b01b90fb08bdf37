"""Writing the hotfixed wheel: the upstream wheel's members with the patched contents, the
version set in the filename, the .dist-info (and .data) directory and METADATA, a new RECORD,
as a deterministic zip (fixed times and modes: same inputs, same bytes)."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

from packaging.utils import parse_wheel_filename
from packaging.version import Version

from pyhotfix._atomic import open_atomic
from pyhotfix.building.repack import wheel_member_info
from pyhotfix.distfile import METADATA_MAX, check_metadata
from pyhotfix.errors import BuildError
from pyhotfix.wheelmode.apply import TreeChanges
from pyhotfix.wheelmode.archive import WheelLayout, member_mode

__all__ = ["hotfix_wheel_filename", "rewrite_wheel", "set_metadata_version"]

_CHUNK = 1 << 20
_VERSION_LINE = re.compile(r"^Version:[ \t]*[^\r\n]*$", re.IGNORECASE | re.MULTILINE)
# Signatures of the old RECORD: invalid once it is rewritten, so they are dropped.
_RECORD_NAMES = ("RECORD", "RECORD.jws", "RECORD.p7s")

DateTime = tuple[int, int, int, int, int, int]


def hotfix_wheel_filename(filename: str, version: str) -> str:
    """`filename` with its version part replaced (name, build and tags kept as published)."""
    parts = filename.removesuffix(".whl").split("-")
    parts[1] = version.replace("-", "_")
    return "-".join(parts) + ".whl"


def set_metadata_version(text: str, version: str, filename: str) -> str:
    """METADATA with its Version header set to `version`."""
    head, sep, body = text.partition("\n\n")
    new_head, count = _VERSION_LINE.subn(f"Version: {version}", head, count=1)
    if count != 1:
        raise BuildError(
            f"The METADATA of {filename} has no Version field, so the hotfix version cannot be "
            "set in it; nothing was built. The wheel is not valid: build from the sdist instead."
        )
    return new_head + sep + body


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def rewrite_wheel(
    zf: zipfile.ZipFile,
    layout: WheelLayout,
    changes: TreeChanges,
    version: str,
    out_dir: Path,
    date_time: DateTime,
    edit_metadata: Callable[[str], str] | None = None,
) -> Path:
    """Write the hotfixed wheel of `layout` into `out_dir` and return its path.

    Installed files come first in the upstream order (files the patches created after them,
    sorted), then the .dist-info members, then the new RECORD. `edit_metadata`, if given, edits
    the METADATA text after the version is set (e.g. a metadata hotfix's Requires-Dist).
    """
    filename = hotfix_wheel_filename(layout.filename, version)
    name, parsed_version, _, _ = parse_wheel_filename(filename)
    old_stem = layout.dist_info.removesuffix(".dist-info")
    new_stem = f"{old_stem.rpartition('-')[0]}-{version}"
    renames = {
        f"{old_stem}.dist-info/": f"{new_stem}.dist-info/",
        f"{old_stem}.data/": f"{new_stem}.data/",
    }

    def renamed(member: str) -> str:
        for old, new in renames.items():
            if member.startswith(old):
                return new + member[len(old) :]
        return member

    info_members = [m for m in layout.members if m.filename.startswith(layout.dist_info + "/")]
    known = {m.filename for m in layout.members}
    created = sorted(p for p in changes.changed if p not in known)
    record = io.StringIO()
    rows = csv.writer(record, lineterminator="\n")
    target = out_dir / filename
    written: set[str] = set()

    def claim(member: str) -> str:
        # An upstream member already named like the renamed .dist-info (or a created file that
        # is) would make two members of one name: installers take either.
        if member in written:
            raise BuildError(
                f"Rewriting {layout.filename} as {filename} would store {member} twice; nothing "
                "was built. The upstream wheel already has that path: build from the sdist."
            )
        written.add(member)
        return member

    with open_atomic(target, durable=False) as out, zipfile.ZipFile(out, "w") as zout:

        def put(member: str, data: bytes, mode: int) -> None:
            zout.writestr(wheel_member_info(claim(member), date_time, mode), data)
            rows.writerow([member, _record_hash(data), len(data)])

        for info in layout.installed():
            if info.filename in changes.deleted:
                continue
            if info.filename in changes.changed:
                data, mode = changes.changed[info.filename]
                put(renamed(info.filename), data, mode)
                continue
            # Streamed: a large upstream member is never held in memory.
            member = claim(renamed(info.filename))
            digest, size = hashlib.sha256(), 0
            zinfo = wheel_member_info(member, date_time, member_mode(info))
            with zf.open(info) as src, zout.open(zinfo, "w") as dst:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    dst.write(chunk)
            b64 = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
            rows.writerow([member, f"sha256={b64}", size])
        for path in created:
            data, mode = changes.changed[path]
            put(renamed(path), data, mode)
        for info in info_members:
            base = info.filename[len(layout.dist_info) + 1 :]
            if base in _RECORD_NAMES:
                continue
            data = zf.read(info)
            if base == "METADATA":
                data = _metadata(data, layout.filename, version, edit_metadata)
                check_metadata(data, filename, name, parsed_version)
            put(renamed(info.filename), data, member_mode(info))
        record_name = claim(f"{new_stem}.dist-info/RECORD")
        rows.writerow([record_name, "", ""])
        zout.writestr(wheel_member_info(record_name, date_time, 0o644), record.getvalue())
    return target


def _metadata(data: bytes, filename: str, version: str, edit: Callable[[str], str] | None) -> bytes:
    if len(data) > METADATA_MAX:
        raise BuildError(f"The METADATA of {filename} is too large; nothing was built.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BuildError(
            f"The METADATA of {filename} is not UTF-8, so it cannot be edited; nothing was built."
        ) from None
    text = set_metadata_version(text, str(Version(version)), filename)
    return (edit(text) if edit is not None else text).encode("utf-8")
