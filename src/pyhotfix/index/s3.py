"""A static index in object storage: `ObjectIndex`, ``s3://bucket/prefix`` on AWS or any
S3-compatible endpoint (``[settings] endpoint_url``), through fsspec's s3fs. The page logic is
`StaticIndex`'s; only the storage differs (`S3Storage`): files are uploaded before any page lists
them, with ``If-None-Match: *`` so a file is never replaced; each project's index.json is written
with ``If-Match: <ETag>`` (``If-None-Match: *`` when new) and, when another publisher got there
first (HTTP 412), read again, merged and retried, so concurrent publishers never lose each other's
entries. Pages carry ``Cache-Control: max-age=0`` and their PEP 691 content types; files
``immutable``. Credentials come from boto's usual chain (environment, profiles, config files).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Awaitable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from packaging.utils import NormalizedName, canonicalize_name

from pyhotfix.errors import PublishError, UsageError
from pyhotfix.httpclient import redact
from pyhotfix.index.static import StaticIndex
from pyhotfix.index.storage import (
    FILE_CACHE_CONTROL,
    PAGE_CACHE_CONTROL,
    Blob,
    FileDigest,
    FileWrite,
    PageWrite,
)

if TYPE_CHECKING:
    from s3fs import S3FileSystem

__all__ = ["S3_CONFIG", "ObjectIndex", "S3Storage"]

_T = TypeVar("_T")
# Requests in flight at once against object storage: enough to hide latency on a batch of files,
# few enough to stay clear of request-rate limits.
_CONCURRENCY = 16
# Fail in seconds, not minutes, when the endpoint is down (boto's defaults: 60 s, 5 attempts).
S3_CONFIG = {"connect_timeout": 5, "read_timeout": 60, "retries": {"max_attempts": 3}}


class ObjectIndex(StaticIndex):
    """A static simple repository in an S3 bucket (or any S3-compatible store), same layout as
    a directory: ``s3://bucket/prefix/simple/<project>/…``."""

    def __init__(self, url: str, *, endpoint_url: str | None = None) -> None:
        _require_s3fs()  # here, where the target is made: a clear error before any work
        super().__init__(S3Storage(url, endpoint_url=endpoint_url))


class S3Storage:
    """`Storage` on S3 through s3fs (its aiobotocore client, for the conditional-write headers
    fsspec's file API does not expose). Nothing is locked: every page write is conditional."""

    serialised = False

    def __init__(
        self, url: str, *, endpoint_url: str | None = None, fs: S3FileSystem | None = None
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.hostname or parts.username or parts.password:
            raise UsageError(
                f"{redact(url)!r} is not s3://BUCKET/PREFIX. Credentials never go in the URL: "
                "pyhotfix reads them from the AWS environment variables or config files."
            )
        self.bucket = parts.netloc
        prefix = parts.path.strip("/")
        self.prefix = f"{prefix}/" if prefix else ""
        self.description = f"s3://{self.bucket}/{prefix}".rstrip("/")
        self.endpoint_url = endpoint_url
        self._given_fs = fs

    @functools.cached_property
    def _fs(self) -> S3FileSystem:
        # Made on first use, so naming an s3:// index costs nothing (and needs no s3fs) until
        # something is read or written.
        return self._given_fs if self._given_fs is not None else _s3_filesystem(self.endpoint_url)

    # -- Storage --------------------------------------------------------------------------------

    def exclusive(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def where(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{key}"

    def restore_hint(self, key: str) -> str:
        return (
            "Restore its previous version if the bucket keeps versions (`aws s3api "
            f"list-object-versions --bucket {self.bucket} --prefix {self.prefix}{key}`)"
        )

    def read(self, key: str) -> Blob | None:
        return self._run(self._get(key))

    def missing(self, keys: Iterable[str]) -> set[str]:
        wanted = list(keys)
        found = self._run(self._gather([self._exists(k) for k in wanted]))
        return {k for k, there in zip(wanted, found, strict=True) if not there}

    def digests(self, keys: Iterable[str], *, cheap: bool = False) -> dict[str, FileDigest | None]:
        wanted = list(keys)
        found = self._run(self._gather([self._digest(k, cheap) for k in wanted]))
        return dict(zip(wanted, found, strict=True))

    def put_files(self, files: Sequence[FileWrite]) -> None:
        self._run(self._gather([self._put_file(f) for f in files]))

    def put_pages(self, pages: Sequence[PageWrite]) -> dict[str, str | None]:
        tokens = self._run(self._gather([self._put_page(p) for p in pages]))
        return {p.key: t for p, t in zip(pages, tokens, strict=True)}

    def list_projects(self) -> list[NormalizedName]:
        return self._run(self._list_projects())

    def project_files(self, canon: str) -> list[str]:
        keys = self._run(self._keys_under(f"simple/{canon}/"))
        # A deeper key shows as its first segment, as a directory does in a DirStorage listing.
        return sorted({k.split("/", 1)[0] for k in keys})

    # -- requests -------------------------------------------------------------------------------

    async def _call(self, method: str, key: str | None, **kwargs: Any) -> Any:
        if key is not None:
            kwargs["Key"] = self.prefix + key
        try:
            return await self._fs._call_s3(method, Bucket=self.bucket, **kwargs)
        except Exception as exc:
            code, _status = _aws_error(exc)
            if code in _EXPECTED:
                raise _Expected(code) from exc
            raise self._error(exc, key) from exc

    async def _get(self, key: str) -> Blob | None:
        try:
            response = await self._call("get_object", key)
        except _Expected as exc:
            if exc.code in _MISSING:
                return None
            raise self._error(exc, key) from exc
        async with response["Body"] as body:
            data = await body.read()
        return Blob(data, str(response["ETag"]))

    async def _exists(self, key: str) -> bool:
        try:
            await self._call("head_object", key)
        except _Expected as exc:
            if exc.code in _MISSING:
                return False
            raise self._error(exc, key) from exc
        return True

    async def _digest(self, key: str, cheap: bool) -> FileDigest | None:
        if cheap:
            # HEAD only: the size, and no hash (the sha256 metadata pyhotfix uploads with is what
            # the uploader claimed, not what the object holds).
            try:
                head = await self._call("head_object", key)
            except _Expected as exc:
                if exc.code in _MISSING:
                    return None
                raise self._error(exc, key) from exc
            return FileDigest(int(head.get("ContentLength", -1)), None)
        blob = await self._get(key)
        if blob is None:
            return None
        return FileDigest(len(blob.data), hashlib.sha256(blob.data).hexdigest())

    async def _put_file(self, f: FileWrite) -> None:
        import asyncio  # object storage only: plain directory publishes skip its import cost

        data = f.data if f.data is not None else await asyncio.to_thread(_read, f)
        for attempt in range(3):
            try:
                await self._call(
                    "put_object",
                    f.key,
                    Body=data,
                    ContentType=f.content_type,
                    CacheControl=FILE_CACHE_CONTROL,
                    Metadata={"sha256": f.sha256},
                    IfNoneMatch="*",  # never replace an object: it may be another's in flight
                )
                return
            except _Expected as exc:
                if exc.code == "ConditionalRequestConflict" and attempt < 2:
                    await asyncio.sleep(0.1 * (attempt + 1))  # a concurrent write of this key
                    continue
                if exc.code != "PreconditionFailed":
                    raise self._error(exc, f.key) from exc
            # It exists already: fine if it has these very bytes (a retried or concurrent
            # publish of the same build), refused otherwise.
            if await self._stored_sha256(f.key) == f.sha256:
                return
            raise PublishError(
                f"{self.where(f.key)} already exists with other content, although the index "
                "does not list it. Either another publish of that file is running right now, or "
                "an earlier one was interrupted before listing it. If none is running, delete "
                f"the object (`aws s3 rm {self.where(f.key)}`) and publish again. Nothing that "
                "was listed has changed."
            )
        raise PublishError(f"{self.where(f.key)} kept changing while it was being uploaded.")

    async def _stored_sha256(self, key: str) -> str | None:
        # The bytes themselves, not the sha256 metadata: whoever put a stray object there could
        # have written any metadata. Rare (an object of that name already exists), so affordable.
        blob = await self._get(key)
        return None if blob is None else hashlib.sha256(blob.data).hexdigest()

    async def _put_page(self, page: PageWrite) -> str | None:
        condition: dict[str, str] = {}
        if page.conditional:
            condition = {"IfMatch": page.expect} if page.expect else {"IfNoneMatch": "*"}
        try:
            response = await self._call(
                "put_object",
                page.key,
                Body=page.data,
                ContentType=page.content_type,
                CacheControl=PAGE_CACHE_CONTROL,
                **condition,
            )
        except _Expected as exc:
            # 412: another publisher changed (or created) the page since it was read; 409: it
            # is writing it right now; 404 on If-Match: it was deleted. All: read and retry.
            if page.conditional and exc.code in _CONFLICT:
                return None
            raise self._error(exc, page.key) from exc
        return str(response["ETag"])

    async def _list_projects(self) -> list[NormalizedName]:
        found: list[NormalizedName] = []
        for key in await self._keys_under("simple/"):
            rest = key.split("/")
            if len(rest) == 2 and rest[1] == "index.json" and canonicalize_name(rest[0]) == rest[0]:
                found.append(canonicalize_name(rest[0]))
        return sorted(found)

    async def _keys_under(self, start: str) -> list[str]:
        """Every key below `start` (relative to it), all pages of the listing."""
        found: list[str] = []
        prefix = f"{self.prefix}{start}"
        token: dict[str, str] = {}
        while True:
            page = await self._call("list_objects_v2", None, Prefix=prefix, **token)
            found.extend(str(item["Key"])[len(prefix) :] for item in page.get("Contents", []))
            if not page.get("IsTruncated"):
                return found
            token = {"ContinuationToken": page["NextContinuationToken"]}

    async def _gather(self, jobs: Sequence[Awaitable[_T]]) -> list[_T]:
        import asyncio

        limit = asyncio.Semaphore(_CONCURRENCY)

        async def bounded(job: Awaitable[_T]) -> _T:
            async with limit:
                return await job

        return list(await asyncio.gather(*(bounded(j) for j in jobs)))

    def _run(self, job: Awaitable[_T]) -> _T:
        from fsspec.asyn import sync

        async def wrapped() -> _T:
            return await job

        result: _T = sync(self._fs.loop, wrapped)
        return result

    def _error(self, exc: BaseException, key: str | None) -> PublishError:
        if isinstance(exc, PublishError):
            return exc
        code, status = _aws_error(exc)
        where = self.where(key) if key is not None else self.description
        endpoint = redact(self.endpoint_url) if self.endpoint_url else "AWS S3"
        if code == "NoSuchBucket":
            return PublishError(
                f"The bucket {self.bucket!r} does not exist at {endpoint}. Create it (e.g. `aws "
                f"s3 mb s3://{self.bucket}`) or fix [settings] index / endpoint_url. Nothing was "
                "written."
            )
        if code in _DENIED or status == 403 or type(exc).__name__ == "NoCredentialsError":
            return PublishError(
                f"{endpoint} refused access to {where} ({code or type(exc).__name__}). pyhotfix "
                "uses the standard AWS credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY "
                "(and AWS_SESSION_TOKEN), AWS_PROFILE, or ~/.aws/credentials. Check that they "
                "are set, valid, and allowed s3:GetObject, s3:PutObject and s3:ListBucket on the "
                "bucket. Nothing that was listed has changed."
            )
        if code:
            return PublishError(
                f"{endpoint} failed on {where}: {code} ({_message(exc)}). Nothing that was "
                "listed has changed; run the publish again once the store is healthy."
            )
        return PublishError(
            f"Could not reach {endpoint} for {self.description}: {_message(exc)}. Check the "
            "network and [settings] endpoint_url. Nothing that was listed has changed; run the "
            "publish again."
        )


class _Expected(Exception):
    """An S3 error code the caller handles (missing object, failed precondition)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
_CONFLICT = frozenset({"PreconditionFailed", "ConditionalRequestConflict", *_MISSING})
_EXPECTED = _CONFLICT
_DENIED = frozenset(
    {
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "403",
    }
)


def _aws_error(exc: BaseException) -> tuple[str | None, int]:
    """The S3 error code and HTTP status behind `exc` (s3fs wraps botocore's ClientError)."""
    seen: BaseException | None = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        if isinstance(response, dict) and isinstance(response.get("Error"), dict):
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            return str(response["Error"].get("Code") or status or ""), int(status or 0)
        seen = seen.__cause__
    return None, 0


def _message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:300] + "…"


def _read(f: FileWrite) -> bytes:
    """A large file's bytes, checked against the hash it was inspected with."""
    assert f.src is not None
    data = f.src.read_bytes()
    if hashlib.sha256(data).hexdigest() != f.sha256:
        raise PublishError(
            f"{f.src} changed while it was being published; nothing of it was listed. Publish "
            "it again once it is no longer being written."
        )
    return data


_S3_MISSING = (
    "Publishing to s3:// needs s3fs: install it with `pip install 'pyhotfix[s3]'` (or "
    "`pip install s3fs`)."
)


def _require_s3fs() -> None:
    """PublishError unless s3fs and fsspec are installed; looked up without importing them (an
    s3:// target costs nothing until it is used)."""
    import importlib.util

    try:
        missing = any(importlib.util.find_spec(m) is None for m in ("s3fs", "fsspec"))
    except (ImportError, ValueError):
        missing = True
    if missing:
        raise PublishError(_S3_MISSING)


def _s3_filesystem(endpoint_url: str | None) -> S3FileSystem:
    try:
        import s3fs
    except ImportError as exc:
        raise PublishError(_S3_MISSING) from exc
    client_kwargs = {"endpoint_url": endpoint_url} if endpoint_url else {}
    # A fresh instance: fsspec caches filesystems per arguments, and a cached one may belong to
    # another event loop or a parent process.
    fs: S3FileSystem = s3fs.S3FileSystem(
        client_kwargs=client_kwargs, config_kwargs=S3_CONFIG, skip_instance_cache=True
    )
    return fs
