"""Repository paths → sdist paths: the sdist lacks tests and CI config and may drop `src/`, so a
path is matched exactly, then by suffix across layout directories, learning prefix mappings; and
the strip level (p1 or p0) that makes most of a patch's paths exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pyhotfix.patching.diff import EPOCH, Message, Section

__all__ = [
    "Ambiguous",
    "Resolver",
    "choose_strip",
    "existing_names",
    "is_creation",
    "is_deletion",
    "prefix_pair",
]


# A one-component suffix match (e.g. "src/six.py" -> "six.py") is only trusted across these
# layout directories; otherwise "tests/conftest.py" would map onto a top-level "conftest.py".
_LAYOUT_DIRS = frozenset({"src", "lib", "python"})


class Ambiguous(Exception):
    def __init__(self, path: str, matches: list[str]) -> None:
        super().__init__(path)
        self.path = path
        self.matches = matches


def _suffix_matches(path: str, candidates: Iterable[str]) -> tuple[list[str], int]:
    """Candidates that equal `path` with a leading directory prefix added or removed (the
    longest such overlap wins); returns (matches, overlap in components)."""
    r = path.split("/")
    best: list[str] = []
    best_k = 0
    base = r[-1]
    for cand in candidates:
        if not (cand == base or cand.endswith("/" + base)):  # cheap filter before splitting
            continue
        s = cand.split("/")
        k = 0
        while k < min(len(r), len(s)) and r[-1 - k] == s[-1 - k]:
            k += 1
        if k not in (len(r), len(s)) or len(r) == len(s):
            continue
        extra = r[: len(r) - k] or s[: len(s) - k]
        if k < 2 and not (len(extra) == 1 and extra[0] in _LAYOUT_DIRS):
            continue
        if k > best_k:
            best, best_k = [cand], k
        elif k == best_k:
            best.append(cand)
    return best, best_k


def prefix_pair(repo_path: str, sdist_path: str) -> tuple[str, str]:
    """The (repo prefix, sdist prefix) that turns one path into the other."""
    r, s = repo_path.split("/"), sdist_path.split("/")
    k = 0
    while k < min(len(r), len(s)) and r[-1 - k] == s[-1 - k]:
        k += 1
    rp = "/".join(r[: len(r) - k])
    sp = "/".join(s[: len(s) - k])
    return (rp + "/" if rp else ""), (sp + "/" if sp else "")


class Resolver:
    """The sdist's files (updated as sections are planned) and the prefix mappings learned."""

    def __init__(self, files: Iterable[str], mappings: Sequence[tuple[str, str]] = ()) -> None:
        self.files = set(files)
        self.mappings: list[tuple[str, str]] = list(mappings)
        self._dirs: set[str] | None = None

    @property
    def dirs(self) -> set[str]:
        if self._dirs is None:
            dirs: set[str] = set()
            for f in self.files:
                parts = f.split("/")
                for j in range(1, len(parts)):
                    dirs.add("/".join(parts[:j]))
            self._dirs = dirs
        return self._dirs

    def add(self, path: str) -> None:
        self.files.add(path)
        self._dirs = None

    def remove(self, path: str) -> None:
        self.files.discard(path)
        self._dirs = None

    def learn(self, repo_path: str, sdist_path: str) -> None:
        pair = prefix_pair(repo_path, sdist_path)
        if pair not in self.mappings and pair != ("", ""):
            self.mappings.append(pair)
            self.mappings.sort(key=lambda p: -len(p[0]))  # most specific repo prefix first

    def existing(self, path: str, *, learn: bool = True, probe: bool = False) -> str | None:
        """The sdist file a repository path refers to, or None if the sdist has none."""
        if path in self.files:
            return path
        for rp, sp in self.mappings:
            if path.startswith(rp) and sp + path[len(rp) :] in self.files:
                return sp + path[len(rp) :]
        matches, _ = _suffix_matches(path, self.files)
        if len(matches) > 1:
            if probe:
                return None
            raise Ambiguous(path, matches)
        if matches and learn:
            self.learn(path, matches[0])
        return matches[0] if matches else None

    def new(self, path: str) -> str | None:
        """Where a file the patch creates goes, or None when its directory is not in the sdist.

        Candidates are scored by how much of the parent directory exists: the path as-is, the
        path under each learned prefix mapping, and the path under a directory matched by suffix.
        """
        parts = path.split("/")
        parent = parts[:-1]
        dirs = self.dirs

        def anchored(comps: list[str], base: str) -> int:
            j = 0
            while j < len(comps) and base + "/".join(comps[: j + 1]) in dirs:
                j += 1
            return j

        # (parent fully exists, components accounted for, preference, path, mapping to learn)
        cands: list[tuple[bool, int, int, str, tuple[str, str] | None]] = []
        j = anchored(parent, "")
        cands.append((j == len(parent), j, 2, path, None))
        for rp, sp in self.mappings:
            if not path.startswith(rp) or (sp and sp.rstrip("/") not in dirs):
                continue
            rest = path[len(rp) :].split("/")[:-1]
            j = anchored(rest, sp)
            cands.append((j == len(rest), rp.count("/") + j, 1, sp + path[len(rp) :], None))
        for d in range(len(parent), 0, -1):
            ancestor = "/".join(parts[:d])
            if ancestor in dirs:
                break  # the as-is candidate already covers it
            matches, _ = _suffix_matches(ancestor, dirs)
            if len(matches) > 1:
                raise Ambiguous(ancestor, matches)
            if matches:
                target = matches[0] + "/" + "/".join(parts[d:])
                cands.append((d == len(parent), d, 0, target, (ancestor, matches[0])))
                break
        full, depth, _, target, mapping = max(cands, key=lambda c: (c[0], c[1], c[2]))
        if not full and depth == 0:
            return None
        if mapping is not None:
            self.learn(*mapping)
        return target


def is_creation(sec: Section) -> bool:
    lengths = (h.old_len for h in sec.hunks)
    return sec.old is None or _is_epoch_side(sec, sec.old_stamp, lengths)


def is_deletion(sec: Section) -> bool:
    lengths = (h.new_len for h in sec.hunks)
    return sec.new is None or _is_epoch_side(sec, sec.new_stamp, lengths)


def _is_epoch_side(sec: Section, stamp: str, lengths: Iterable[int]) -> bool:
    """diff -N writes an absent file as empty with an epoch timestamp instead of /dev/null."""
    return not sec.is_git and bool(EPOCH.match(stamp)) and all(n == 0 for n in lengths)


def existing_names(sec: Section, p: int) -> list[str]:
    """Repository paths a non-creating section may refer to (plain diffs: old or new name)."""
    names: list[str] = []
    for name in (sec.old, sec.new) if not sec.is_git else (sec.old,):
        path = name.strip(p) if name is not None else None
        if path is not None and path not in names:
            names.append(path)
    return names


def choose_strip(messages: list[Message], tree: Resolver) -> int:
    """p1 unless p0 makes more of the patch's paths exist in the sdist."""
    scores: dict[int, tuple[int, int, int, int]] = {}
    for p in (1, 0):
        exact = resolved = parents = 0
        for msg in messages:
            for sec in msg.sections:
                if is_creation(sec):
                    path = sec.new.strip(p) if sec.new is not None else None
                    if path is not None and (
                        "/" not in path or path.rsplit("/", 1)[0] in tree.dirs
                    ):
                        parents += 1
                    continue
                names = existing_names(sec, p)
                if any(n in tree.files for n in names):
                    exact += 1
                    resolved += 1
                elif any(tree.existing(n, learn=False, probe=True) for n in names):
                    resolved += 1
        scores[p] = (exact, resolved, parents, p)
    return max(scores.values())[3]
