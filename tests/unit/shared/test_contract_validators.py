"""A create request and its update check a given value the same way (one validator set)."""

import pytest
from entrasync_shared.messages import (
    CredentialProfileCreate,
    ProfileUpdate,
    TenantCreate,
    TenantUpdate,
)
from pydantic import ValidationError

GUID = "3F2504E0-4F89-11D3-9A0C-0305E82C3301"
GROUP = "A1B2C3D4-0000-1111-2222-333344445555"


def _tenant_pair(**fields: object) -> tuple[TenantCreate, TenantUpdate]:
    create = TenantCreate.model_validate({"tenant": "contoso.com", "profile_id": "p", **fields})
    update = TenantUpdate.model_validate({"tenant_id": "t", "version": 1, **fields})
    return create, update


def _profile_pair(**fields: object) -> tuple[CredentialProfileCreate, ProfileUpdate]:
    create = CredentialProfileCreate.model_validate(
        {"name": "n", "client_id": GUID, "client_secret": "s", **fields}
    )
    update = ProfileUpdate.model_validate({"profile_id": "p", "version": 1, **fields})
    return create, update


def test_tenant_create_and_update_normalise_given_values_alike() -> None:
    create, update = _tenant_pair(
        name="  Contoso  ",
        object_types=["user", "group", "user"],
        filters={"member_of_groups": [GROUP, GROUP.lower()]},
    )
    for field in ("name", "object_types", "filters"):
        assert getattr(create, field) == getattr(update, field), field
    assert create.name == "Contoso"
    assert create.object_types == ("user", "group")
    assert create.filters.member_of_groups == (GROUP.lower(),)


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "   "},
        {"name": "evil\nline"},
        {"object_types": []},
        {"filters": {"exclude_guests": True, "typo": True}},
        {"filters": {"member_of_groups": ["not-a-guid"]}},
    ],
)
def test_tenant_create_and_update_refuse_the_same_values(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TenantCreate.model_validate({"tenant": "contoso.com", "profile_id": "p", **fields})
    with pytest.raises(ValidationError):
        TenantUpdate.model_validate({"tenant_id": "t", "version": 1, **fields})


def test_profile_create_and_update_normalise_given_values_alike() -> None:
    create, update = _profile_pair(name=" App ", client_id=GUID, client_secret="s3cret")
    assert (
        (create.name, create.client_id) == (update.name, update.client_id) == ("App", GUID.lower())
    )
    assert create.model_dump(mode="json")["client_secret"] == "s3cret"
    assert update.model_dump(mode="json")["client_secret"] == "s3cret"


@pytest.mark.parametrize("fields", [{"name": "\u202e"}, {"client_id": "app"}])
def test_profile_create_and_update_refuse_the_same_values(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        CredentialProfileCreate.model_validate(
            {"name": "n", "client_id": GUID, "client_secret": "s", **fields}
        )
    with pytest.raises(ValidationError):
        ProfileUpdate.model_validate({"profile_id": "p", "version": 1, **fields})


def test_only_an_update_refuses_null() -> None:
    assert TenantCreate(tenant="contoso.com", profile_id="p", name=None).name is None
    with pytest.raises(ValidationError, match="may not be null"):
        TenantUpdate.model_validate({"tenant_id": "t", "version": 1, "name": None})
    with pytest.raises(ValidationError, match="may not be null"):
        TenantUpdate.model_validate({"tenant_id": "t", "version": 1, "object_types": None})
