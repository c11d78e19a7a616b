from __future__ import annotations

from datetime import date

import pytest
from config_fakes import CLIENT_ID, NOW, World, make_world
from entrasync_config import usecases
from entrasync_config.domain import Conflict, InUse, Invalid, SecretBinding
from entrasync_shared.messages import (
    CredentialProfile,
    CredentialProfileCreate,
    ProfileCreated,
    ProfileDelete,
    ProfileDeleted,
    ProfileRef,
    ProfileUpdate,
    ProfileUpdated,
    TenantCreate,
    TenantRef,
)
from support.certificates import certificate_pair


@pytest.fixture
def world() -> World:
    return make_world()


async def new_profile(world: World, name: str = "app", **extra: object) -> CredentialProfile:
    fields: dict[str, object] = {"client_secret": "hush", **extra}
    request = CredentialProfileCreate.model_validate(
        {"name": name, "client_id": CLIENT_ID, **fields}
    )
    return await usecases.create_profile(request, world.deps)


async def test_a_secret_profile_is_sealed_and_announced_without_the_secret(world: World) -> None:
    profile = await new_profile(world)

    stored = world.profiles.rows[profile.id]
    assert (profile.kind, profile.version, profile.certificate_thumbprint) == ("secret", 1, None)
    assert b"hush" not in stored.sealed
    assert world.deps.box.open(stored.sealed, SecretBinding.of(stored.profile)) == "hush"
    assert world.outbox.published == [
        ProfileCreated(id=f"profile.{profile.id}.v1", at=NOW, profile=profile)
    ]
    assert "hush" not in world.outbox.published[0].model_dump_json()


async def test_a_certificate_profile_gets_its_thumbprint_and_expiry_from_the_certificate(
    world: World,
) -> None:
    key, certificate = certificate_pair(days=20, now=NOW)

    profile = await new_profile(
        world, client_secret=None, private_key_pem=key, certificate_pem=certificate
    )

    assert profile.kind == "certificate"
    assert profile.certificate_thumbprint is not None and len(profile.certificate_thumbprint) == 40
    assert profile.secret_expires_at == date(2027, 3, 21)
    assert profile.expires_soon and not profile.expired
    stored = world.profiles.rows[profile.id]
    assert stored.certificate_pem == certificate
    assert world.deps.box.open(stored.sealed, SecretBinding.of(stored.profile)) == key


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"client_secret": None}, "client_secret", "is required"),
        ({"private_key_pem": "k"}, "client_secret", "not both"),
        ({"client_secret": None, "certificate_pem": "c"}, "private_key_pem", "required"),
        ({"client_secret": " hush "}, "client_secret", "spaces"),
    ],
)
async def test_a_profile_needs_exactly_one_well_formed_credential(
    world: World, fields: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(Invalid) as refused:
        await new_profile(world, **fields)

    assert refused.value.field == field and words in refused.value.message
    assert world.profiles.rows == {} and world.outbox.published == []


@pytest.mark.parametrize(
    ("pair", "field"),
    [
        ({"key_type": "ec"}, "private_key_pem"),
        ({"other_key": True}, "private_key_pem"),
    ],
)
async def test_a_certificate_must_be_rsa_and_match_its_key(
    world: World, pair: dict[str, object], field: str
) -> None:
    key, certificate = certificate_pair(**pair, now=NOW)  # type: ignore[arg-type]

    with pytest.raises(Invalid) as refused:
        await new_profile(
            world, client_secret=None, private_key_pem=key, certificate_pem=certificate
        )

    assert refused.value.field == field
    assert "PRIVATE KEY" not in refused.value.message


async def test_garbage_pem_is_refused_without_being_quoted(world: World) -> None:
    with pytest.raises(Invalid) as refused:
        await new_profile(
            world, client_secret=None, private_key_pem="s3cret-key", certificate_pem="nope"
        )

    assert refused.value.field == "certificate_pem"
    assert "s3cret-key" not in refused.value.message


@pytest.mark.parametrize(
    ("expires", "soon", "expired"),
    [
        (date(2027, 5, 1), False, False),
        (date(2027, 3, 31), True, False),
        (date(2027, 3, 1), True, False),
        (date(2027, 2, 28), True, True),
        (None, False, False),
    ],
)
async def test_a_secret_expiring_within_30_days_is_flagged(
    world: World, expires: date | None, soon: bool, expired: bool
) -> None:
    profile = await new_profile(world, secret_expires_at=expires)

    listed = await usecases.list_profiles(world.deps)
    fetched = await usecases.get_profile(ProfileRef(profile_id=profile.id), world.deps)

    assert (profile.expires_soon, profile.expired) == (soon, expired)
    assert listed == [fetched] and (fetched.expires_soon, fetched.expired) == (soon, expired)


async def test_an_update_changes_only_what_is_given_and_bumps_the_version(world: World) -> None:
    profile = await new_profile(world, secret_expires_at=date(2028, 1, 1))
    sealed = world.profiles.rows[profile.id].sealed

    renamed = await usecases.update_profile(
        ProfileUpdate(profile_id=profile.id, version=1, name="renamed"), world.deps
    )

    assert (renamed.name, renamed.version, renamed.client_id) == ("renamed", 2, CLIENT_ID)
    assert renamed.secret_expires_at == date(2028, 1, 1)
    stored = world.profiles.rows[profile.id]
    assert stored.sealed != sealed  # the same secret, resealed for version 2
    assert world.deps.box.open(stored.sealed, SecretBinding.of(stored.profile)) == "hush"
    assert isinstance(world.outbox.published[-1], ProfileUpdated)
    assert world.outbox.published[-1].id == f"profile.{profile.id}.v2"


async def test_a_new_secret_replaces_the_old_one_and_its_expiry(world: World) -> None:
    profile = await new_profile(world, secret_expires_at=date(2027, 3, 10))

    updated = await usecases.update_profile(
        ProfileUpdate(profile_id=profile.id, version=1, client_secret="fresh"), world.deps
    )

    stored = world.profiles.rows[profile.id]
    assert world.deps.box.open(stored.sealed, SecretBinding.of(stored.profile)) == "fresh"
    assert updated.secret_expires_at is None and not updated.expires_soon
    assert "fresh" not in world.outbox.published[-1].model_dump_json()


async def test_a_secret_profile_can_become_a_certificate_profile(world: World) -> None:
    profile = await new_profile(world)
    key, certificate = certificate_pair(now=NOW)

    updated = await usecases.update_profile(
        ProfileUpdate(
            profile_id=profile.id, version=1, private_key_pem=key, certificate_pem=certificate
        ),
        world.deps,
    )

    assert updated.kind == "certificate" and updated.certificate_thumbprint
    assert world.profiles.rows[profile.id].certificate_pem == certificate


async def test_an_update_based_on_a_stale_version_is_a_conflict(world: World) -> None:
    profile = await new_profile(world)
    await usecases.update_profile(
        ProfileUpdate(profile_id=profile.id, version=1, name="b"), world.deps
    )

    with pytest.raises(Conflict) as stale:
        await usecases.update_profile(
            ProfileUpdate(profile_id=profile.id, version=1, name="c"), world.deps
        )

    assert stale.value.field == "version" and "version 2" in stale.value.message
    assert world.profiles.rows[profile.id].profile.name == "b"


async def test_an_update_without_changes_is_not_an_event(world: World) -> None:
    profile = await new_profile(world)

    same = await usecases.update_profile(
        ProfileUpdate(profile_id=profile.id, version=1, name="app"), world.deps
    )

    assert same == profile and len(world.outbox.published) == 1


async def test_a_profile_in_use_cannot_be_deleted_and_the_error_names_the_tenants(
    world: World,
) -> None:
    profile = await new_profile(world)
    for domain_name in ("contoso.onmicrosoft.com", "fabrikam.onmicrosoft.com"):
        await usecases.create_tenant(
            TenantCreate(tenant=domain_name, profile_id=profile.id), world.deps
        )

    with pytest.raises(InUse) as in_use:
        await usecases.delete_profile(ProfileDelete(profile_id=profile.id), world.deps)

    assert in_use.value.code == "in_use" and in_use.value.field == "profile_id"
    assert "contoso.onmicrosoft.com" in in_use.value.message
    assert "fabrikam.onmicrosoft.com" in in_use.value.message
    assert profile.id in world.profiles.rows


async def test_a_deleted_profile_is_announced_by_id(world: World) -> None:
    profile = await new_profile(world)

    await usecases.delete_profile(ProfileDelete(profile_id=profile.id, version=1), world.deps)

    assert world.profiles.rows == {}
    event = world.outbox.published[-1]
    assert isinstance(event, ProfileDeleted) and event.profile_id == profile.id


async def test_a_certificate_profile_hands_the_syncer_key_certificate_and_thumbprint(
    world: World,
) -> None:
    key, certificate = certificate_pair(now=NOW)
    profile = await new_profile(
        world, client_secret=None, private_key_pem=key, certificate_pem=certificate
    )
    tenant = await usecases.create_tenant(
        TenantCreate(tenant="contoso.onmicrosoft.com", profile_id=profile.id), world.deps
    )

    credential = await usecases.get_credential(TenantRef(tenant_id=tenant.id), world.deps)

    assert credential.kind == "certificate" and credential.client_secret is None
    assert credential.private_key_pem is not None
    assert credential.private_key_pem.get_secret_value() == key
    assert credential.certificate_pem == certificate
    assert credential.certificate_thumbprint == profile.certificate_thumbprint


TOKEN_FILE = "/var/run/secrets/azure/tokens/azure-identity-token"


async def test_a_federated_profile_holds_no_secret_and_names_its_token_file(
    world: World,
) -> None:
    profile = await new_profile(
        world, client_secret=None, kind="federated", federated_token_file=TOKEN_FILE
    )

    assert (profile.kind, profile.federated_token_file) == ("federated", TOKEN_FILE)
    assert profile.secret_expires_at is None and not profile.expires_soon
    stored = world.profiles.rows[profile.id]
    assert world.deps.box.open(stored.sealed, SecretBinding.of(stored.profile)) == ""


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"kind": "federated"}, "kind", "holds no secret"),
        ({"client_secret": None, "kind": "certificate"}, "kind", "needs private_key_pem"),
        ({"federated_token_file": TOKEN_FILE}, "federated_token_file", "not to a secret"),
    ],
)
async def test_a_profiles_kind_must_fit_its_fields(
    world: World, fields: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(Invalid) as refused:
        await new_profile(world, **fields)

    assert refused.value.field == field and words in refused.value.message


@pytest.mark.parametrize("path", ["relative/token", "/token\nfile", " "])
def test_a_token_file_must_be_an_absolute_path(path: str) -> None:
    with pytest.raises(ValueError, match="federated_token_file"):
        CredentialProfileCreate(
            name="wi", client_id=CLIENT_ID, kind="federated", federated_token_file=path
        )


async def test_a_federated_profile_hands_the_syncer_its_kind_and_token_file_only(
    world: World,
) -> None:
    profile = await new_profile(
        world, client_secret=None, kind="federated", federated_token_file=TOKEN_FILE
    )
    tenant = await usecases.create_tenant(
        TenantCreate(tenant="contoso.onmicrosoft.com", profile_id=profile.id), world.deps
    )

    credential = await usecases.get_credential(TenantRef(tenant_id=tenant.id), world.deps)

    assert (credential.kind, credential.client_id) == ("federated", CLIENT_ID)
    assert credential.federated_token_file == TOKEN_FILE
    assert credential.client_secret is None and credential.private_key_pem is None


async def test_a_secret_profile_can_become_federated_and_back(world: World) -> None:
    profile = await new_profile(world, secret_expires_at="2027-01-01")

    federated = await usecases.update_profile(
        ProfileUpdate(profile_id=profile.id, version=1, kind="federated"), world.deps
    )
    moved = await usecases.update_profile(
        ProfileUpdate(profile_id=profile.id, version=2, federated_token_file=TOKEN_FILE),
        world.deps,
    )
    back = await usecases.update_profile(
        ProfileUpdate(profile_id=profile.id, version=3, client_secret="fresh"), world.deps
    )

    assert (federated.kind, federated.secret_expires_at) == ("federated", None)
    assert (moved.kind, moved.federated_token_file) == ("federated", TOKEN_FILE)
    assert (back.kind, back.federated_token_file) == ("secret", None)


async def test_only_a_federated_profile_takes_a_token_file_in_an_update(world: World) -> None:
    profile = await new_profile(world)

    with pytest.raises(Invalid) as refused:
        await usecases.update_profile(
            ProfileUpdate(profile_id=profile.id, version=1, federated_token_file=TOKEN_FILE),
            world.deps,
        )

    assert refused.value.field == "federated_token_file"


async def test_naming_the_kind_of_a_federated_profile_again_changes_nothing(world: World) -> None:
    profile = await new_profile(world, client_secret=None, kind="federated")

    same = await usecases.update_profile(
        ProfileUpdate(profile_id=profile.id, version=1, kind="federated"), world.deps
    )

    assert same.version == 1 and len(world.outbox.published) == 1
