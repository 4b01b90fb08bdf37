"""Deterministic re-pack of the built sdist and wheel: bytes depend only on contents and
SOURCE_DATE_EPOCH (setuptools and pdm-backend tarballs vary; setuptools wheels carry
umask-dependent file modes)."""

from __future__ import annotations

import gzip
import tarfile
import time
import zipfile
from pathlib import Path
from typing import IO

from pyhotfix._atomic import open_atomic
from pyhotfix.errors import BuildError

__all__ = ["repack_sdist", "rezip_wheel", "wheel_date_time", "wheel_member_info"]


def _normal_mode(mode: int, is_dir: bool) -> int:
    return 0o755 if is_dir or mode & 0o111 else 0o644


def repack_sdist(src: Path, dest: Path, sde: int) -> None:
    """Rewrite a .tar.gz sdist so its bytes depend only on its contents and SOURCE_DATE_EPOCH."""
    with tarfile.open(src, "r:*") as tin:
        members = sorted(tin.getmembers(), key=lambda m: m.name)
        with (
            open(dest, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=sde, compresslevel=9) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tout,
        ):
            for member in members:
                info = tarfile.TarInfo(member.name)
                info.type = member.type
                info.mode = _normal_mode(member.mode, member.isdir())
                info.mtime = sde
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.linkname = member.linkname
                fileobj: IO[bytes] | None = None
                if member.isfile():
                    info.size = member.size
                    fileobj = tin.extractfile(member)
                elif not (member.isdir() or member.issym() or member.islnk()):
                    raise BuildError(
                        f"The backend's sdist {src.name} contains {member.name!r}, which is not a "
                        "regular file, directory or link; it cannot be published."
                    )
                tout.addfile(info, fileobj)


def rezip_wheel(path: Path, sde: int) -> None:
    """Rewrite a wheel with fixed timestamps and modes, keeping the backend's member order.

    The backends all honour SOURCE_DATE_EPOCH for timestamps, but setuptools writes file modes
    from the umask (0o664 vs 0o644), so the same build differs between machines without this.
    RECORD stays valid: it hashes contents, which are unchanged.
    """
    date_time = wheel_date_time(sde)
    with (
        zipfile.ZipFile(path) as zin,
        open_atomic(path, durable=False) as out,  # build-tree file; build() syncs its copy
        zipfile.ZipFile(out, "w") as zout,
    ):
        for item in zin.infolist():
            mode = (item.external_attr >> 16) & 0o777
            zout.writestr(
                wheel_member_info(item.filename, date_time, mode), zin.read(item.filename)
            )


def wheel_date_time(sde: int) -> tuple[int, int, int, int, int, int]:
    """The zip timestamp of every member of a wheel made at SOURCE_DATE_EPOCH `sde`."""
    t = time.gmtime(max(sde, 315532800))  # zip cannot store dates before 1980
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


def wheel_member_info(
    filename: str, date_time: tuple[int, int, int, int, int, int], mode: int
) -> zipfile.ZipInfo:
    """The header of a deterministic wheel member: fixed time, 0644/0755 unix mode, deflated."""
    info = zipfile.ZipInfo(filename, date_time=date_time)
    is_dir = filename.endswith("/")
    kind = 0o040000 if is_dir else 0o100000
    info.external_attr = (kind | _normal_mode(mode, is_dir)) << 16
    info.compress_type = zipfile.ZIP_STORED if is_dir else zipfile.ZIP_DEFLATED
    info.create_system = 3  # unix, so external_attr modes are honoured
    return info
