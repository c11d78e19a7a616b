"""Formats are validated as full matches: a value with a trailing newline is not a GUID."""

import pytest
from entrasync_shared.messages import (
    CredentialProfileCreate,
    ProfileUpdate,
    TenantCreate,
    tenant_domain_or_guid,
)
from pydantic import ValidationError

GUID = "11111111-2222-3333-4444-555555555555"


@pytest.mark.parametrize("tail", ["\n", "\r\n", "\nERROR forged"])
def test_a_client_id_with_a_line_break_is_refused(tail: str) -> None:
    with pytest.raises(ValidationError, match="client_id must be a GUID"):
        CredentialProfileCreate(name="app", client_id=GUID + tail, client_secret="s")
    with pytest.raises(ValidationError, match="client_id must be a GUID"):
        ProfileUpdate(profile_id="p", version=1, client_id=GUID + tail)


def test_a_group_filter_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(ValidationError, match="member_of_groups must hold"):
        TenantCreate.model_validate(
            {
                "tenant": "contoso.com",
                "profile_id": "p",
                "filters": {"member_of_groups": [GUID + "\n"]},
            }
        )


def test_a_domain_or_guid_is_matched_whole() -> None:
    for bad in ("contoso.com\nx", "contoso.com\n.evil", f"{GUID}\nx"):
        with pytest.raises(ValueError, match="DNS domain"):
            tenant_domain_or_guid(bad)
    # Surrounding whitespace is trimmed (a pasted value), never kept.
    assert tenant_domain_or_guid(f" {GUID.upper()}\n") == GUID
