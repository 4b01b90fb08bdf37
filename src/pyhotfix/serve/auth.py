"""HTTP Basic auth of `pyhotfix serve` from an htpasswd file: loading and checking the file, and
the password hashes `htpasswd` writes ({SHA}, MD5-crypt, bcrypt)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pyhotfix.errors import UsageError

__all__ = ["SUPPORTED_HASHES", "Htpasswd", "md5_crypt"]

_ITOA64: Final = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BCRYPT_PREFIXES: Final = ("$2y$", "$2b$", "$2a$")
SUPPORTED_HASHES: Final = (
    "bcrypt ($2y$, htpasswd -B), {SHA} (htpasswd -s), $apr1$ (htpasswd -m) and $1$"
)


@dataclass(frozen=True)
class Htpasswd:
    """Users and password hashes from an htpasswd file (``user:hash`` per line)."""

    users: Mapping[str, str]

    @classmethod
    def load(cls, path: Path) -> Htpasswd:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"The --auth file {path} cannot be read: {exc}.") from exc
        users: dict[str, str] = {}
        for n, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, hashed = line.partition(":")
            if not sep or not user:
                raise UsageError(f"{path}, line {n}: expected `user:hash` (an htpasswd file).")
            problem = _hash_problem(hashed)
            if problem:
                raise UsageError(f"{path}, line {n} (user {user!r}): {problem}")
            users[user] = hashed
        if not users:
            raise UsageError(f"The --auth file {path} lists no users, so nobody could log in.")
        return cls(users)

    def is_slow(self, authorization: str) -> bool:
        """Whether checking this header costs a bcrypt round (tens of milliseconds or more)."""
        user = _basic_user(authorization)
        return user is not None and self.users.get(user, "").startswith(_BCRYPT_PREFIXES)

    def check(self, authorization: str | None) -> bool:
        """Whether an Authorization header carries a listed user's password (constant-time compare)."""
        if authorization is None:
            return False
        parsed = _basic_credentials(authorization)
        if parsed is None:
            return False
        user, password = parsed
        hashed = self.users.get(user)
        if hashed is None:
            _verify("{SHA}AAAAAAAAAAAAAAAAAAAAAAAAAAA=", password)  # same work as a wrong password
            return False
        return _verify(hashed, password)


def _hash_problem(hashed: str) -> str | None:
    if hashed.startswith("{SHA}"):
        try:
            ok = len(base64.b64decode(hashed[5:], validate=True)) == 20
        except binascii.Error:
            ok = False
        return None if ok else "the {SHA} hash is not base64 of 20 bytes."
    if hashed.startswith(("$apr1$", "$1$")):
        parts = hashed.split("$")
        return None if len(parts) == 4 and len(parts[3]) == 22 else "malformed MD5 hash."
    if hashed.startswith(_BCRYPT_PREFIXES):
        try:
            import bcrypt  # noqa: F401
        except ImportError:
            return "a bcrypt hash, but the bcrypt package is not installed: `pip install bcrypt`."
        return None
    return f"unsupported password hash. Supported: {SUPPORTED_HASHES} (never plain text)."


def _basic_credentials(authorization: str) -> tuple[str, bytes] | None:
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
        user, sep, password = raw.partition(b":")
        return (user.decode("utf-8"), password) if sep else None
    except (binascii.Error, UnicodeDecodeError):
        return None


def _basic_user(authorization: str) -> str | None:
    parsed = _basic_credentials(authorization)
    return parsed[0] if parsed else None


def _verify(hashed: str, password: bytes) -> bool:
    if hashed.startswith("{SHA}"):
        digest = base64.b64encode(hashlib.sha1(password).digest()).decode()
        return hmac.compare_digest(digest, hashed[5:])
    if hashed.startswith(("$apr1$", "$1$")):
        magic, salt = hashed.split("$")[1:3]
        return hmac.compare_digest(md5_crypt(password, salt.encode(), f"${magic}$"), hashed)
    if hashed.startswith(_BCRYPT_PREFIXES):
        import bcrypt

        try:
            # The bcrypt library knows $2b$; $2y$ (Apache's) is the same algorithm.
            return bool(bcrypt.checkpw(password, ("$2b$" + hashed[4:]).encode()))
        except ValueError:  # e.g. a password longer than 72 bytes (bcrypt >= 5)
            return False
    return False


def md5_crypt(password: bytes, salt: bytes, magic: str) -> str:
    """The MD5-based crypt of FreeBSD ($1$) and Apache ($apr1$): what `htpasswd -m` writes."""
    salt = salt[:8]
    final = hashlib.md5(password + salt + password).digest()
    ctx = password + magic.encode() + salt
    for left in range(len(password), 0, -16):
        ctx += final[: min(16, left)]
    i = len(password)
    while i:
        ctx += b"\x00" if i & 1 else password[:1]
        i >>= 1
    final = hashlib.md5(ctx).digest()
    for i in range(1000):
        step = password if i & 1 else final
        if i % 3:
            step += salt
        if i % 7:
            step += password
        step += final if i & 1 else password
        final = hashlib.md5(step).digest()
    out: list[str] = []
    for a, b, c in ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)):
        v = (final[a] << 16) | (final[b] << 8) | final[c]
        out.extend(_ITOA64[(v >> (6 * k)) & 0x3F] for k in range(4))
    v = final[11]
    out.extend(_ITOA64[(v >> (6 * k)) & 0x3F] for k in range(2))
    return f"{magic}{salt.decode()}${''.join(out)}"
