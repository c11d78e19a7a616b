"""Which proxy a request to a cloud takes: per-cloud choice, HTTPS_PROXY, NO_PROXY."""

from __future__ import annotations

import pytest
from entrasync_shared.egress import EgressProxies, EgressSettingsMixin, redacted
from entrasync_shared.kit.service import settings_problems
from pydantic import ValidationError

GRAPH = "https://graph.microsoft.com"
PROXY = "http://proxy.corp.example:3128"


def test_https_proxy_carries_every_cloud_unless_no_proxy_names_the_host() -> None:
    proxies = EgressProxies({}, {"HTTPS_PROXY": PROXY, "NO_PROXY": "localhost,.lab.example"})
    assert proxies.for_url("global", GRAPH) == PROXY
    assert proxies.for_url("lab", "https://graph.lab.example:8443") is None
    assert proxies.for_url("lab", "https://localhost:8443") is None


@pytest.mark.parametrize(
    ("no_proxy", "url", "bypassed"),
    [
        ("*", GRAPH, True),
        ("microsoft.com", GRAPH, True),
        (".microsoft.com", GRAPH, True),
        ("graph.microsoft.com:443", GRAPH, True),
        ("graph.microsoft.com:8443", GRAPH, False),
        ("soft.com", GRAPH, False),
        (" 127.0.0.1 , login.microsoftonline.com", "https://127.0.0.1:9443", True),
        ("", GRAPH, False),
    ],
)
def test_no_proxy_names_hosts_domains_and_ports(no_proxy: str, url: str, bypassed: bool) -> None:
    proxies = EgressProxies({}, {"HTTPS_PROXY": PROXY, "NO_PROXY": no_proxy})
    assert (proxies.for_url("global", url) is None) is bypassed


def test_lower_case_variables_win_as_in_curl() -> None:
    proxies = EgressProxies({}, {"HTTPS_PROXY": "http://upper:1", "https_proxy": PROXY})
    assert proxies.for_url("global", GRAPH) == PROXY


def test_no_https_proxy_means_direct() -> None:
    assert EgressProxies({}, {"HTTP_PROXY": PROXY}).for_url("global", GRAPH) is None


def test_a_cloud_s_own_proxy_wins_over_the_standard_variables() -> None:
    environ = {"HTTPS_PROXY": "http://general:3128", "NO_PROXY": "*"}
    proxies = EgressProxies({"usgov": PROXY, "china": "direct"}, environ)
    assert proxies.for_url("usgov", "https://graph.microsoft.us") == PROXY
    assert proxies.for_url("china", "https://microsoftgraph.chinacloudapi.cn") is None
    assert proxies.for_url("global", GRAPH) is None  # NO_PROXY=*


@pytest.mark.parametrize("bad", ["proxy:3128", "https://proxy:3128", "socks5://p:1", "http://p:x"])
def test_a_bad_proxy_is_refused_without_repeating_it(bad: str) -> None:
    with pytest.raises(ValueError) as refused:
        EgressProxies({}, {"HTTPS_PROXY": bad})
    assert bad not in str(refused.value) and "HTTPS_PROXY" in str(refused.value)


def test_a_bad_cloud_proxy_setting_names_the_cloud_not_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENTRASYNC_CLOUD_PROXIES", '{"usgov": "ftp://u:s3cret-pw@proxy:21"}')
    with pytest.raises(ValidationError) as refused:
        EgressSettingsMixin()
    problems = settings_problems(refused.value)
    assert "usgov" in problems and "s3cret-pw" not in problems


def test_redacted_hides_user_and_password() -> None:
    assert redacted("http://me:s3cret@proxy:3128") == "http://***@proxy:3128"
    assert redacted(PROXY) == PROXY


def test_the_summary_for_the_start_up_log_shows_no_password() -> None:
    environ = {"HTTPS_PROXY": "http://me:s3cret@proxy:3128", "NO_PROXY": "localhost"}
    proxies = EgressProxies({"usgov": "http://gov:pw2@p:1", "lab": "direct"}, environ)
    assert proxies.summary() == (
        "HTTPS_PROXY=http://***@proxy:3128 NO_PROXY=localhost; lab: direct; usgov: http://***@p:1"
    )
    assert EgressProxies({}, {}).summary() == "no HTTPS_PROXY"
