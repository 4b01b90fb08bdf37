"""The one exception hierarchy. Every message is written for the user; the CLI maps classes to exit codes."""

from __future__ import annotations

__all__ = [
    "BuildError",
    "DeployError",
    "LifecycleError",
    "ManifestError",
    "PatchError",
    "PatchFileError",
    "PublishError",
    "PyhotfixError",
    "ServeError",
    "UnsafeArchiveError",
    "UpstreamError",
    "UsageError",
    "VersioningError",
]


class PyhotfixError(Exception):
    """An operation failed in a way the user can act on. Exit code 1."""

    exit_code = 1


class UsageError(PyhotfixError):
    """Bad command-line usage or a bad manifest. Exit code 2."""

    exit_code = 2


class ManifestError(UsageError):
    """hotfixes.toml is malformed; the message names file, line and key."""


class UpstreamError(PyhotfixError):
    """The upstream index or the sdist on it could not be found, fetched or trusted."""


class UnsafeArchiveError(PyhotfixError):
    """An sdist tried to write outside its directory, or is too large."""


class PatchError(PyhotfixError):
    """A patch could not be fetched, trusted or applied."""


class VersioningError(PyhotfixError):
    """The hotfix version could not be set for this build backend."""


class BuildError(PyhotfixError):
    """The PEP 517 build failed or produced files with the wrong name or version."""


class PublishError(PyhotfixError):
    """Publishing to the index failed or was refused (e.g. a file exists with different bytes)."""


class PatchFileError(PatchError):
    """A patch file named in the manifest or on the command line is missing, not a regular file or
    too large: a usage mistake, so exit code 2 (the message names file, line and key when known)."""

    exit_code = 2


class DeployError(PyhotfixError):
    """A deployment could not be pointed at, exported for or verified against the hotfix builds."""


class LifecycleError(PyhotfixError):
    """A workspace, rebase or retire step was refused (e.g. no workspace, unfinished conflicts)."""


class ServeError(PyhotfixError):
    """The local index server could not start or stopped unexpectedly."""
