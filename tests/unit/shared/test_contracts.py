import pytest
from entrasync_shared import catalog
from entrasync_shared.clouds import CloudRegistry, CustomCloud, UnknownCloud
from entrasync_shared.messages import CredentialProfileCreate, TenantCreate
from entrasync_shared.subjects import Names
from pydantic import ValidationError

APP_ID = "11111111-2222-3333-4444-555555555555"


def test_a_tenant_is_a_domain_or_a_guid() -> None:
    assert TenantCreate(tenant="Contoso.onmicrosoft.com", profile_id="p").tenant == (
        "contoso.onmicrosoft.com"
    )
    assert TenantCreate(tenant=APP_ID.upper(), profile_id="p").tenant == APP_ID
    with pytest.raises(ValidationError, match="DNS domain"):
        TenantCreate(tenant="not a tenant", profile_id="p")


def test_tenant_defaults_follow_the_seed_page() -> None:
    tenant = TenantCreate(tenant="contoso.com", profile_id="p")
    assert (tenant.cloud, tenant.enabled, tenant.interval_seconds) == ("global", True, 60)
    assert tenant.object_types == ("user", "group", "device")


def test_requests_refuse_unknown_fields_and_short_intervals() -> None:
    with pytest.raises(ValidationError):
        TenantCreate(tenant="contoso.com", profile_id="p", intervall=30)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        TenantCreate(tenant="contoso.com", profile_id="p", interval_seconds=5)


def test_a_profile_secret_never_shows_in_its_repr() -> None:
    profile = CredentialProfileCreate(name="n", client_id=APP_ID, client_secret="s3cr3t-value")
    assert "s3cr3t-value" not in repr(profile)
    assert "s3cr3t-value" not in str(profile.model_dump())


def test_custom_clouds_resolve_with_their_ca(tmp_path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("PEM")
    registry = CloudRegistry(
        {
            "lab": CustomCloud(
                authority_host="https://login.lab/", graph_url="https://g.lab", ca_file=ca
            )
        }
    )
    lab = registry.resolve("lab")
    assert (lab.authority_host, lab.ca_pem) == ("https://login.lab", "PEM")
    assert registry.resolve("usgov-dod").graph_url == "https://dod-graph.microsoft.us"
    with pytest.raises(UnknownCloud, match="known clouds: global"):
        registry.resolve("mars")


def test_custom_clouds_cannot_shadow_national_ones_or_use_http() -> None:
    with pytest.raises(ValueError, match="redefine"):
        CloudRegistry({"global": CustomCloud(authority_host="https://a", graph_url="https://b")})
    with pytest.raises(ValidationError, match="https"):
        CustomCloud(authority_host="http://a", graph_url="https://b")


def test_a_prefix_isolates_subjects_and_streams() -> None:
    plain, isolated = Names(), Names("t1")
    assert plain.sync_command("abc") == "entrasync.sync.command.abc"
    assert isolated.sync_command("abc") == "t1.entrasync.sync.command.abc"
    assert isolated.events_stream == "T1_ENTRASYNC_EVENTS"
    with pytest.raises(ValueError, match="unknown API"):
        catalog.endpoint("config", "drop.database")
