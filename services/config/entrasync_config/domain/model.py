"""Config's values: what a sealed secret belongs to, a profile as stored, the credential of a
connection test, a failed probe step, and the events config publishes."""

from __future__ import annotations

from dataclasses import dataclass, field

from entrasync_shared.messages import (
    CredentialKind,
    CredentialProfile,
    ProfileCreated,
    ProfileDeleted,
    ProfileUpdated,
    TenantCreated,
    TenantDeleted,
    TenantUpdated,
)

ConfigEvent = (
    TenantCreated | TenantUpdated | TenantDeleted | ProfileCreated | ProfileUpdated | ProfileDeleted
)


@dataclass(frozen=True)
class SecretBinding:
    """What a sealed secret belongs to: it opens only for the same profile, version and kind.

    The version is the profile's public `version`, so a profile update reseals an unchanged
    secret too: putting an older secret back then also needs an older version, which every
    client holding the newer one (and the published `ProfileUpdated` events) would notice.
    """

    profile_id: str
    version: int
    kind: CredentialKind

    @classmethod
    def of(cls, profile: CredentialProfile) -> SecretBinding:
        return cls(profile.id, profile.version, profile.kind)


@dataclass(frozen=True)
class StoredProfile:
    """A profile as stored: its public view plus the sealed secret (or private key)."""

    profile: CredentialProfile
    sealed: bytes = field(repr=False)
    key_id: str
    certificate_pem: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ClientCredential:
    """The app's credential for one connection test (secret, certificate *or* federated:
    then the token is read from `token_file`, or the service's AZURE_FEDERATED_TOKEN_FILE)."""

    client_id: str
    secret: str | None = field(default=None, repr=False)
    private_key_pem: str | None = field(default=None, repr=False)
    certificate_pem: str | None = field(default=None, repr=False)
    thumbprint: str | None = None
    federated: bool = False
    token_file: str | None = None

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.secret, self.private_key_pem) if s)


class ProbeFailure(Exception):
    """A step of a connection test failed: Entra/Graph `code`, HTTP `status`, upstream words."""

    def __init__(self, code: str, detail: str = "", status: int | None = None) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail
        self.status = status
