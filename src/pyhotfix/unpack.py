"""Unpack an sdist safely: nothing is ever written outside the destination directory.

The extraction is our own rather than `extractall(filter=...)`: the data filter trusts
`os.path.realpath`, which gives up on symlink chains longer than PATH_MAX (CVE-2025-4517), and it
does not exist before Python 3.11.4. Instead every member path is resolved component by component
against an in-memory map of what this archive already created, and the filesystem is only touched
through directory file descriptors opened with O_NOFOLLOW, so no pre-existing or archive-made link
is ever followed. Symlinks are created last, after all of them are known, so no member can be
written through one and no link can point through or at another.

The archive is streamed (tar) or read entry by entry (zip) with every bound checked before the
bytes it governs are read: member count, per-member and total size, the size of each PAX / GNU
long-name header, and the decompressed stream itself.
"""

from __future__ import annotations

import bz2
import calendar
import gzip
import lzma
import math
import os
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, ClassVar, Literal, Protocol

from pyhotfix.errors import UnsafeArchiveError
from pyhotfix.treeremove import remove_contents


@dataclass(frozen=True)
class UnpackLimits:
    """Bounds that keep a hostile archive from filling the disk or the memory."""

    max_members: int = 20_000
    max_total_bytes: int = 1 << 30  # 1 GiB uncompressed
    max_member_bytes: int = 512 << 20
    max_header_bytes: int = 1 << 20  # one PAX or GNU long-name header
    max_path_chars: int = 4096  # PATH_MAX: longer paths break the tools that read the tree
    # Path components of one member. Real sdists stay under 20 (deepest seen on PyPI: ~15);
    # thousands of levels break recursive tools (rmtree, os.walk users) and cost time.
    max_depth: int = 64


@dataclass(frozen=True)
class SourceTree:
    """An unpacked source tree; `root` is the project directory (the one holding pyproject/setup.py).

    `newest_mtime` is the newest member time recorded in the archive itself (seconds), so it does
    not depend on when the sdist was unpacked.
    """

    root: Path
    newest_mtime: int


Kind = Literal["dir", "file", "symlink"]

_CHUNK = 1 << 20
_MAX_LINK_TARGET = 4096
_MAX_HEADER_CHAIN = 8  # extension headers in a row before one member (real archives use 1-3)
_MAX_MTIME = 253402300799  # 9999-12-31T23:59:59Z: utime and later tools reject larger times
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_TAR_EXTENSION_TYPES = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)


class _Refused(Exception):
    """The archive broke a rule; the message says which member and how."""


class _NotAnSdist(_Refused):
    """The archive is not shaped like an sdist (one top-level directory)."""


def unpack_sdist(
    archive: Path,
    dest: Path,
    limits: UnpackLimits = UnpackLimits(),
    *,
    display_name: str | None = None,
) -> SourceTree:
    """Unpack a .tar.gz / .tar.bz2 / .tar.xz / .tar / .zip sdist into the empty directory `dest`.

    Returns its single top-level directory. Absolute paths, `..`, links leaving the sdist's
    directory or going through other links, hard links to anything but a file extracted before,
    devices, fifos, a name used for two kinds of member, and oversize archives are refused with an
    `UnsafeArchiveError` naming `display_name` (default: the archive's file name); whatever was
    written is removed. A regular file listed twice is replaced by the later copy, as tar does.
    """
    shown = display_name or archive.name
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise UnsafeArchiveError(
            f"pyhotfix unpacks an sdist only into an empty directory, and {dest} is not empty. "
            "Remove its contents (or choose another directory) and try again."
        )
    try:
        try:
            return _unpack(archive, dest, limits)
        except BaseException:
            _clear(dest)
            raise
    except _NotAnSdist as exc:
        raise UnsafeArchiveError(
            f"{shown} is not a valid sdist and was not unpacked: {exc}. An sdist holds exactly "
            "one top-level directory (NAME-VERSION/); check that this is the file you meant."
        ) from None
    except _Refused as exc:
        raise UnsafeArchiveError(
            f"{shown} is unsafe to unpack and was refused: {exc}. The sdist is not trustworthy "
            "(damaged, or made to write outside its directory or exhaust the machine); nothing "
            "from it was kept. Check where it comes from before using it, and report it to the "
            "project if it is the published file."
        ) from None
    except OSError as exc:
        if exc.errno is None:
            raise _unreadable(shown, exc) from exc  # a decompressor's complaint (bad gzip data)
        raise UnsafeArchiveError(
            f"{shown} could not be unpacked into {dest}: {exc}. Check the free space and "
            "permissions there and try again; nothing from the sdist was kept."
        ) from exc
    except (
        tarfile.TarError,
        zipfile.BadZipFile,
        zlib.error,
        lzma.LZMAError,
        EOFError,
        NotImplementedError,
        RuntimeError,
        UnicodeError,
    ) as exc:
        raise _unreadable(shown, exc) from exc


def _unreadable(shown: str, exc: Exception) -> UnsafeArchiveError:
    return UnsafeArchiveError(
        f"{shown} could not be unpacked: {exc}. It is not a readable .tar.gz, .tar.bz2, .tar.xz, "
        ".tar or .zip archive (a damaged or unsupported file); nothing from it was kept."
    )


def _unpack(archive: Path, dest: Path, limits: UnpackLimits) -> SourceTree:
    dest_fd = os.open(dest, _DIR_FLAGS)
    tree = _Tree(dest_fd, limits)
    try:
        with archive.open("rb") as raw:
            if raw.read(4) in (b"PK\x03\x04", b"PK\x05\x06"):
                _read_zip(raw, tree, limits)
            else:
                raw.seek(0)
                _read_tar(raw, tree, limits)
        top = tree.finish()
    finally:
        tree.close()
        os.close(dest_fd)
    return SourceTree(root=dest / top, newest_mtime=tree.newest)


def _clear(dest: Path) -> None:
    """Remove what a refused archive wrote (dest was empty before), at any depth, no links followed."""
    remove_contents(dest)


def _member_parts(name: str, limits: UnpackLimits) -> tuple[str, ...]:
    """A member name as path components, or refused; "." and empty components are dropped."""
    if "\x00" in name or "\\" in name:
        raise _Refused(f"the member name {_q(name)} contains a backslash or NUL")
    if name.startswith("/"):
        raise _Refused(f"the member {_q(name)} is an absolute path")
    if len(name) > limits.max_path_chars:
        raise _Refused(
            f"a member name is {len(name)} characters long (the limit is {limits.max_path_chars})"
        )
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if len(parts) > limits.max_depth:
        raise _Refused(
            f"the member {_q(name)} has {len(parts)} path components (the limit is "
            f"{limits.max_depth}; no real sdist is nearly that deep)"
        )
    if ".." in parts:
        raise _Refused(f"the member {_q(name)} uses '..' to point outside its directory")
    if any(len(p.encode("utf-8", "surrogateescape")) > 255 for p in parts):
        raise _Refused(f"the member {_q(name)} has a path component over 255 bytes")
    return parts


def _q(text: str) -> str:
    """A member name or link target for a message: quoted, and cut if an attacker made it long."""
    return repr(text if len(text) <= 120 else text[:60] + "…" + text[-40:])


def _clamp_mtime(value: float) -> int:
    if not math.isfinite(value):  # a PAX mtime may be "nan" or "inf"
        return 0
    return min(max(int(value), 0), _MAX_MTIME)


def _sanitized_file_mode(mode: int) -> int:
    return 0o755 if mode & 0o100 else 0o644


class _Tree:
    """What the archive created so far under `dest_fd`, and the only code that writes there."""

    def __init__(self, dest_fd: int, limits: UnpackLimits) -> None:
        self.dest_fd = dest_fd
        self.limits = limits
        self.kinds: dict[tuple[str, ...], Kind] = {}
        self.file_sizes: dict[tuple[str, ...], int] = {}
        self.dir_mtimes: dict[tuple[str, ...], int | None] = {}  # None: created implicitly
        self.links: list[tuple[tuple[str, ...], str, int]] = []  # created in finish()
        self.members = 0
        self.total_bytes = 0
        self.newest = 0
        self.top: str | None = None
        # The open directories of the last member's path: _chain[i] is _chain_parts[: i + 1].
        self._chain: list[int] = []
        self._chain_parts: tuple[str, ...] = ()

    # -- bookkeeping -------------------------------------------------------------------------

    def note(self, parts: tuple[str, ...], mtime: int, is_dir: bool) -> None:
        """Count a member, check it sits in the one top-level directory, track the newest time."""
        self.members += 1
        if self.members > self.limits.max_members:
            raise _Refused(f"it has more than {self.limits.max_members} members (the limit)")
        self.newest = max(self.newest, mtime)
        if not parts:
            return
        if self.top is None:
            self.top = parts[0]
        elif parts[0] != self.top:
            raise _NotAnSdist(
                f"it does not have exactly one top-level directory (found {_q(self.top)} and "
                f"{_q(parts[0])})"
            )
        if len(parts) == 1 and not is_dir:
            raise _NotAnSdist(
                f"it does not have exactly one top-level directory ({_q(parts[0])} is not a directory)"
            )

    def _claim(self, parts: tuple[str, ...], kind: Kind) -> None:
        if parts in self.kinds:
            raise _Refused(
                f"the member {_q('/'.join(parts))} appears twice (as a {self.kinds[parts]} and a "
                f"{kind}); a later copy could replace what an earlier one checked"
            )
        self.kinds[parts] = kind

    def _reserve(self, parts: tuple[str, ...], size: int) -> None:
        if size < 0 or size > self.limits.max_member_bytes:
            raise _Refused(
                f"the member {_q('/'.join(parts))} declares {size} bytes (the limit for one member "
                f"is {self.limits.max_member_bytes})"
            )
        self.total_bytes += size
        if self.total_bytes > self.limits.max_total_bytes:
            raise _Refused(
                f"it unpacks to more than {self.limits.max_total_bytes} bytes (the limit)"
            )

    def _parent_fd(self, parts: tuple[str, ...]) -> int:
        """The directory that holds `parts`, creating missing ones, never through a link.

        The descriptor is borrowed (closed by `close`): the chain of directories opened for the
        last member is kept, so a member next to the previous one opens nothing, and the cost of
        the archive is O(path components), not members x depth.
        """
        dir_parts = parts[:-1]
        chain = self._chain
        if dir_parts == self._chain_parts:  # the usual case: the same directory as before
            return chain[-1] if chain else self.dest_fd
        common = 0
        while common < min(len(chain), len(dir_parts)) and (
            self._chain_parts[common] == dir_parts[common]
        ):
            common += 1
        while len(chain) > common:
            os.close(chain.pop())
        self._chain_parts = dir_parts[:common]
        fd = chain[-1] if chain else self.dest_fd
        for depth in range(common + 1, len(dir_parts) + 1):
            prefix = dir_parts[:depth]
            kind = self.kinds.get(prefix)
            if kind is None:
                os.mkdir(prefix[-1], 0o700, dir_fd=fd)
                self.kinds[prefix] = "dir"
                self.dir_mtimes[prefix] = None
            elif kind != "dir":
                raise _Refused(
                    f"the member {_q('/'.join(parts))} goes through {_q('/'.join(prefix))}, which "
                    f"is a {kind} in the archive (links through links are refused)"
                )
            fd = os.open(prefix[-1], _DIR_FLAGS, dir_fd=fd)
            chain.append(fd)
            self._chain_parts = prefix
        return fd

    def close(self) -> None:
        """Close the directories `_parent_fd` keeps open."""
        while self._chain:
            os.close(self._chain.pop())
        self._chain_parts = ()

    # -- members -----------------------------------------------------------------------------

    def add_dir(self, parts: tuple[str, ...], mtime: int) -> None:
        if not parts:
            return  # "./": the destination itself
        if self.kinds.get(parts) == "dir":
            self.dir_mtimes[parts] = mtime  # tar may list a directory again after its contents
            return
        self._claim(parts, "dir")
        os.mkdir(parts[-1], 0o700, dir_fd=self._parent_fd(parts))
        self.dir_mtimes[parts] = mtime

    def add_file(
        self,
        parts: tuple[str, ...],
        mode: int,
        mtime: int,
        size: int,
        read: Callable[[int], bytes],
    ) -> None:
        if not parts:
            raise _Refused("a file member has an empty name")
        self._reserve(parts, size)
        # A regular file listed again replaces the earlier one, as tar and every installer do:
        # hatchling writes PKG-INFO twice when it builds an sdist from an unpacked sdist. The
        # earlier one is unlinked (never followed), the new one created with O_EXCL.
        again = self.kinds.get(parts) == "file"
        if not again:
            self._claim(parts, "file")
        parent = self._parent_fd(parts)
        if again:
            os.unlink(parts[-1], dir_fd=parent)
        out = os.open(parts[-1], _FILE_FLAGS, 0o600, dir_fd=parent)
        with os.fdopen(out, "wb") as sink:
            written = 0
            while chunk := read(_CHUNK):
                written += len(chunk)
                if written > size:
                    raise _Refused(
                        f"the member {_q('/'.join(parts))} holds more data than the {size} bytes "
                        "it declares"
                    )
                sink.write(chunk)
            sink.flush()
            os.fchmod(out, _sanitized_file_mode(mode))
            os.utime(out, (mtime, mtime))
        self.file_sizes[parts] = written

    def add_hardlink(self, parts: tuple[str, ...], target_name: str, mode: int, mtime: int) -> None:
        """A copy of a regular file extracted earlier (bytes copied: no link to anything)."""
        try:
            target = _member_parts(target_name, self.limits)
        except _Refused:
            raise _Refused(
                f"the member {_q('/'.join(parts))} is a hard link to {_q(target_name)}, which is "
                "outside the sdist's directory (links outside are refused)"
            ) from None
        if self.kinds.get(target) != "file":
            raise _Refused(
                f"the member {_q('/'.join(parts))} is a hard link to {_q(target_name)}, which is not "
                "a regular file extracted before it"
            )
        source = os.open(target[-1], _READ_FLAGS, dir_fd=self._parent_fd(target))
        with os.fdopen(source, "rb") as src:
            self.add_file(parts, mode, mtime, self.file_sizes[target], src.read)

    def add_symlink(self, parts: tuple[str, ...], target: str, mtime: int) -> None:
        name = "/".join(parts)
        if not parts or not target or "\x00" in target or "\\" in target:
            raise _Refused(
                f"the symlink {_q(name)} has an empty name or target, or a NUL/backslash"
            )
        if target.startswith("/"):
            raise _Refused(f"the symlink {_q(name)} points to the absolute path {_q(target)}")
        if len(target) > _MAX_LINK_TARGET:
            raise _Refused(f"the symlink {_q(name)} has a target of {len(target)} characters")
        self._claim(parts, "symlink")
        self._parent_fd(parts)  # its parents are real directories, checked now
        self.links.append((parts, target, mtime))

    # -- the end -----------------------------------------------------------------------------

    def _check_link(self, parts: tuple[str, ...], target: str) -> None:
        """Resolve `target` textually; every link in the archive is known by now."""
        name = "/".join(parts)
        resolved = list(parts[:-1])
        for component in target.split("/"):
            if component in ("", "."):
                continue
            if component == "..":
                if len(resolved) <= 1:
                    raise _Refused(
                        f"the symlink {_q(name)} points to {_q(target)}, which leaves the sdist's "
                        "directory (links outside are refused)"
                    )
                resolved.pop()
                continue
            resolved.append(component)
            if self.kinds.get(tuple(resolved)) == "symlink":
                raise _Refused(
                    f"the symlink {_q(name)} points to {_q(target)}, through or at the symlink "
                    f"{_q('/'.join(resolved))} (links through links are refused)"
                )
        if tuple(resolved) == parts[: len(resolved)]:
            raise _Refused(
                f"the symlink {_q(name)} points to {_q(target)}, a directory that contains the link "
                "(a loop)"
            )

    def finish(self) -> str:
        """Create the symlinks, then fix directory modes and times; returns the top directory."""
        if self.top is None or self.kinds.get((self.top,)) != "dir":
            raise _NotAnSdist("it does not have exactly one top-level directory (it is empty)")
        for parts, target, _ in self.links:
            self._check_link(parts, target)
        for parts, target, mtime in self.links:
            parent = self._parent_fd(parts)
            os.symlink(target, parts[-1], dir_fd=parent)
            os.utime(parts[-1], (mtime, mtime), dir_fd=parent, follow_symlinks=False)
        # Nothing is created from here on, so no directory time set below changes again; in
        # path order, each directory's parent is already open (the chain in `_parent_fd`).
        for parts in sorted(self.dir_mtimes):
            listed = self.dir_mtimes[parts]
            fd = os.open(parts[-1], _DIR_FLAGS, dir_fd=self._parent_fd(parts))
            try:
                os.fchmod(fd, 0o755)
                # Directories the archive does not list get a time from the archive, not the clock.
                when = self.newest if listed is None else listed
                os.utime(fd, (when, when))
            finally:
                os.close(fd)
        return self.top


# -- tar ---------------------------------------------------------------------------------------


@dataclass
class _HeaderBudget:
    """Per-archive state of the tar header checks (mutable: it counts as the stream is read)."""

    max_one: int
    left_total: int
    chain: int = 0


class _BoundedTarInfo(tarfile.TarInfo):
    """Checks an extension header's declared size before tarfile reads its body into memory.

    tarfile's `_proc_member` dispatches to `_proc_pax` / `_proc_gnulong`, which read the whole
    declared size at once; this runs first. A subclass per archive carries that archive's budget.
    """

    budget: ClassVar[_HeaderBudget]

    def _proc_member(self, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        budget = self.budget
        if self.type in _TAR_EXTENSION_TYPES:
            if not 0 <= self.size <= budget.max_one:  # negative: tarfile would seek back
                raise _Refused(
                    f"it has a PAX or GNU long-name header of {self.size} bytes (the limit is "
                    f"{budget.max_one})"
                )
            budget.left_total -= self.size
            budget.chain += 1
            if budget.left_total < 0 or budget.chain > _MAX_HEADER_CHAIN:
                raise _Refused("it has more PAX or GNU long-name headers than any sdist needs")
        elif self.type == tarfile.GNUTYPE_SPARSE:
            raise _Refused(f"the member {_q(self.name)} is a sparse file")
        else:
            budget.chain = 0
        processed: tarfile.TarInfo = super()._proc_member(tarfile_)  # type: ignore[misc]
        return processed

    def _proc_gnusparse_00(self, *args: object) -> None:
        raise _Refused("it has a sparse file (PAX GNU.sparse headers)")

    def _proc_gnusparse_01(self, *args: object) -> None:
        raise _Refused("it has a sparse file (PAX GNU.sparse headers)")

    def _proc_gnusparse_10(self, *args: object) -> None:
        raise _Refused("it has a sparse file (PAX GNU.sparse headers)")


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _BoundedReader:
    """The decompressed stream, refused once it is longer than any allowed archive could be."""

    def __init__(self, inner: _Readable, limit: int) -> None:
        self.inner = inner
        self.limit = limit
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(_CHUNK if size < 0 or size > _CHUNK else size)
        self.count += len(data)
        if self.count > self.limit:
            raise _Refused(f"it decompresses to more than {self.limit} bytes")
        return data


def _decompressed(raw: IO[bytes]) -> gzip.GzipFile | bz2.BZ2File | lzma.LZMAFile | IO[bytes]:
    magic = raw.read(6)
    raw.seek(0)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(raw)
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(raw)
    return raw


def _read_tar(raw: IO[bytes], tree: _Tree, limits: UnpackLimits) -> None:
    headers_total = limits.max_header_bytes * 64
    budget = _HeaderBudget(max_one=limits.max_header_bytes, left_total=headers_total)
    info_class = type("_ArchiveTarInfo", (_BoundedTarInfo,), {"budget": budget})
    # Headers and padding take at most 3 blocks per member beyond the declared data and headers.
    stream_limit = limits.max_total_bytes + headers_total + (limits.max_members + 2) * 3 * 512
    with _decompressed(raw) as plain:
        reader = _BoundedReader(plain, stream_limit)
        # Stream mode ("r|"): one pass, no seeking back, nothing read ahead of the member at hand.
        with tarfile.open(fileobj=reader, mode="r|", tarinfo=info_class) as tar:  # type: ignore[call-overload]
            while (member := tar.next()) is not None:
                tar.members.clear()  # tarfile keeps every header otherwise
                _add_tar_member(tar, member, tree, limits)


def _add_tar_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, tree: _Tree, limits: UnpackLimits
) -> None:
    parts = _member_parts(member.name, limits)
    mtime = _clamp_mtime(member.mtime)
    tree.note(parts, mtime, member.isdir())
    if member.isdir():
        tree.add_dir(parts, mtime)
    elif member.isreg():
        data = tar.extractfile(member)  # reads nothing yet: add_file checks the size first
        assert data is not None  # a regular member always has a file object
        with data:
            tree.add_file(parts, member.mode, mtime, member.size, data.read)
    elif member.issym():
        tree.add_symlink(parts, member.linkname, mtime)
    elif member.islnk():
        tree.add_hardlink(parts, member.linkname, member.mode, mtime)
    elif member.ischr() or member.isblk():
        raise _Refused(f"the member {_q(member.name)} is a device file")
    elif member.isfifo():
        raise _Refused(f"the member {_q(member.name)} is a fifo")
    else:
        raise _Refused(f"the member {_q(member.name)} has the unsupported tar type {member.type!r}")


# -- zip ---------------------------------------------------------------------------------------


def _check_zip_directory(raw: IO[bytes], limits: UnpackLimits) -> None:
    """Bound the central directory before zipfile loads all of it into memory."""
    size = raw.seek(0, os.SEEK_END)
    tail_len = min(size, 22 + 0xFFFF)
    raw.seek(size - tail_len)
    tail = raw.read(tail_len)
    raw.seek(0)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return  # zipfile reports the damage
    entries, directory_size = struct.unpack("<HL", tail[at + 10 : at + 16])
    if entries > limits.max_members:  # 0xFFFF (zip64) included
        raise _Refused(f"it has more than {limits.max_members} members (the limit)")
    if directory_size > limits.max_members * 512 + (8 << 20):  # real ones: ~200 B an entry
        raise _Refused(f"its zip central directory is {directory_size} bytes long")


def _zip_mtime(date_time: tuple[int, int, int, int, int, int]) -> int:
    # zip times carry no zone: read as UTC, so the result does not depend on the machine's zone.
    try:
        return _clamp_mtime(calendar.timegm((*date_time, 0, 0, 0)))
    except (OverflowError, ValueError):
        return 0


def _read_zip(raw: IO[bytes], tree: _Tree, limits: UnpackLimits) -> None:
    _check_zip_directory(raw, limits)
    with zipfile.ZipFile(raw) as archive:
        for info in archive.infolist():
            parts = _member_parts(info.filename, limits)
            mode = info.external_attr >> 16 if info.create_system == 3 else 0
            kind = stat.S_IFMT(mode)
            mtime = _zip_mtime(info.date_time)
            is_dir = kind == stat.S_IFDIR or (kind == 0 and info.filename.endswith("/"))
            tree.note(parts, mtime, is_dir)
            if info.flag_bits & 0x1:
                raise _Refused(f"the member {_q(info.filename)} is encrypted")
            if kind == stat.S_IFLNK:
                if info.file_size > _MAX_LINK_TARGET:
                    raise _Refused(f"the symlink {_q(info.filename)} has an oversize target")
                with archive.open(info) as data:
                    target = data.read(_MAX_LINK_TARGET + 1)
                tree.add_symlink(parts, target.decode("utf-8", "surrogateescape"), mtime)
            elif is_dir:
                tree.add_dir(parts, mtime)
            elif kind in (0, stat.S_IFREG):
                with archive.open(info) as data:  # add_file checks the size before reading
                    tree.add_file(parts, mode, mtime, info.file_size, data.read)
            else:
                raise _Refused(f"the member {_q(info.filename)} is a device, fifo or socket")
