"""Command-line flags reach the running simulator (settings, throttling, quirks)."""

from __future__ import annotations

from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess


def test_flags_set_lifetimes_throttling_and_quirks() -> None:
    flags = [
        *("--delta-link-lifetime", "60", "--token-lifetime", "300", "--member-slice", "9"),
        *("--throttle-budget", "50", "--duplicates", "0.5", "--replays", "0.25"),
        *("--empty-pages", "0.1", "--missed-restores", "0.2", "--seed", "4"),
    ]
    with (
        SimulatorProcess(users=2, groups=1, devices=1, page_size=11, extra_args=flags) as sim,
        SimulatorControl(sim.control_url, sim.ca_file) as control,
    ):
        settings = control.configure()
        throttling = control.throttling()
        quirks = control.delta_quirks(sim.tenants[0]["tenant_id"])
    with (
        SimulatorProcess(users=1, groups=0, devices=0, extra_args=["--throttling", "off"]) as sim,
        SimulatorControl(sim.control_url, sim.ca_file) as control,
    ):
        off = control.throttling()

    assert settings == {
        "page_size": 11,
        "member_slice": 9,
        "token_lifetime": 300,
        "delta_link_lifetime": 60,
    }
    assert (throttling["enabled"], throttling["budget"]) == (True, 50)
    assert quirks == {
        "duplicates": 0.5,
        "replays": 0.25,
        "empty_pages": 0.1,
        "missed_restores": 0.2,
        "seed": 4,
    }
    assert off["enabled"] is False


def test_the_ready_line_describes_each_tenants_apps_and_credentials() -> None:
    with SimulatorProcess(users=1, groups=0, devices=0, tenants=2) as sim:
        ready = sim.ready

    assert set(ready) >= {"authority_host", "graph_url", "control_url", "ca_file", "tenants"}
    for tenant in ready["tenants"]:
        assert set(tenant) >= {"tenant_id", "domain", "display_name", "client_id", "client_secret"}
        assert tenant["permissions"] == ["Directory.Read.All"]
        assert tenant["certificate_pem"].startswith("-----BEGIN CERTIFICATE-----")
        assert tenant["private_key_pem"].startswith("-----BEGIN PRIVATE KEY-----")
        assert len(tenant["thumbprint"]) == 40
        assert tenant["apps"][0]["client_id"] == tenant["client_id"]
        assert tenant["domains"][0] == tenant["domain"]


def test_certificates_off_mints_hundreds_of_tenants_with_secrets_only() -> None:
    # With certificates, 200 tenants' RSA keys would take about a minute: past the ready timeout.
    with SimulatorProcess(
        users=2, groups=1, devices=1, tenants=200, extra_args=["--certificates", "off"]
    ) as sim:
        tenants = sim.tenants

    assert len({t["tenant_id"] for t in tenants}) == len({t["client_id"] for t in tenants}) == 200
    assert all(t["client_secret"] and t["thumbprint"] is None for t in tenants)
    assert all(t["certificate_pem"] is None and t["private_key_pem"] is None for t in tenants)
