"""Optional signed PEP 740 provenance (`build --sign`, `publish --sign`), for CI with an ambient
Sigstore identity (GitHub Actions with ``permissions: id-token: write``, GitLab CI with an
``id_tokens: SIGSTORE_ID_TOKEN``).

Each file gets ``F.provenance``, a PEP 740 provenance object: one attestation bundle whose
publisher is the CI workflow and whose attestation is a Sigstore-signed PyPI publish attestation
of the file (made by `pypi-attestations`, recorded in Sigstore's public transparency log). The
identity is looked up before anything is built, so `--sign` without one stops with a clear error
and nothing is published; the unsigned statement is published either way. Needs the `sign` extra.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pyhotfix.errors import PublishError, UsageError

__all__ = ["SigningIdentity", "find_identity", "sign_files"]

_EXTRA_HINT = "install them with `pip install 'pyhotfix[sign]'`"


@dataclass(frozen=True)
class SigningIdentity:
    """An ambient OIDC token and the CI workflow it names (PEP 740's publisher)."""

    token: str
    publisher: Mapping[str, str]  # kind, repository, workflow/workflow_filepath, environment


def find_identity(environ: Mapping[str, str] | None = None) -> SigningIdentity:
    """The ambient Sigstore identity of this CI job; UsageError saying what is missing."""
    env = os.environ if environ is None else environ
    try:
        from sigstore.oidc import detect_credential
    except ImportError as exc:
        raise UsageError(
            f"--sign needs the sigstore and pypi-attestations packages; {_EXTRA_HINT}. "
            "Without --sign, the unsigned provenance statements are published as always."
        ) from exc
    publisher = _publisher(env)
    token = None
    if publisher is not None:  # outside CI, no detector is asked (some probe the network)
        try:
            token = detect_credential()
        except Exception as exc:  # the detectors raise their own errors (misconfigured CI)
            raise UsageError(f"--sign: looking for a Sigstore identity failed: {exc}.") from exc
    if not token or publisher is None:
        missing = (
            "this is neither GitHub Actions nor GitLab CI"
            if publisher is None
            else "no ambient OIDC token"
        )
        raise UsageError(
            "--sign needs a Sigstore identity from the CI environment, and none was found "
            f"here ({missing}). "
            "In GitHub Actions give the job `permissions: id-token: write`; in GitLab CI "
            "add `id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore`. Nothing was built or published. "
            "Without --sign, the unsigned provenance statements are published as always."
        )
    return SigningIdentity(token, publisher)


def _publisher(env: Mapping[str, str]) -> dict[str, str] | None:
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_REPOSITORY"):
        # GITHUB_WORKFLOW_REF: owner/repo/.github/workflows/release.yml@refs/heads/main
        workflow = env.get("GITHUB_WORKFLOW_REF", "").partition("@")[0].rpartition("/")[2]
        return {
            "kind": "GitHub",
            "repository": env["GITHUB_REPOSITORY"],
            "workflow": workflow,
            "environment": env.get("GITHUB_ENVIRONMENT", ""),
        }
    if env.get("GITLAB_CI") == "true" and env.get("CI_PROJECT_PATH"):
        return {
            "kind": "GitLab",
            "repository": env["CI_PROJECT_PATH"],
            "workflow_filepath": env.get("CI_CONFIG_PATH", ".gitlab-ci.yml"),
            "environment": env.get("CI_ENVIRONMENT_NAME", ""),
        }
    return None


def sign_files(paths: Sequence[Path], identity: SigningIdentity) -> dict[str, bytes]:
    """Filename -> its PEP 740 provenance object (JSON), each file attested and signed."""
    from pypi_attestations import (
        Attestation,
        AttestationBundle,
        Distribution,
        GitHubPublisher,
        GitLabPublisher,
        Provenance,
    )
    from sigstore.models import ClientTrustConfig
    from sigstore.oidc import IdentityToken
    from sigstore.sign import SigningContext

    who = identity.publisher
    publisher: GitHubPublisher | GitLabPublisher = (
        GitHubPublisher(
            repository=who["repository"],
            workflow=who["workflow"],
            environment=who.get("environment") or None,
        )
        if who["kind"] == "GitHub"
        else GitLabPublisher(
            repository=who["repository"],
            workflow_filepath=who["workflow_filepath"],
            environment=who.get("environment") or None,
        )
    )
    context = SigningContext.from_trust_config(ClientTrustConfig.production())
    objects: dict[str, bytes] = {}
    try:
        with context.signer(IdentityToken(identity.token), cache=True) as signer:
            for path in paths:
                attestation = Attestation.sign(signer, Distribution.from_file(path))
                provenance = Provenance(
                    attestation_bundles=[
                        AttestationBundle(publisher=publisher, attestations=[attestation])
                    ]
                )
                objects[path.name] = provenance.model_dump_json().encode("utf-8")
    except Exception as exc:  # sigstore and pypi-attestations raise many kinds; none is ours
        raise PublishError(
            f"Signing with Sigstore failed ({exc}); nothing was published. Run again, or "
            "publish without --sign (the unsigned statements do not need Sigstore)."
        ) from exc
    return objects
