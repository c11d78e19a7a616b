"""The simulator refuses a federated client assertion with Entra's AADSTS code for each check."""

from __future__ import annotations

import time
from typing import Any

import pytest
from entrasync_sim.credentials import AssertionRefused
from entrasync_sim.federation import (
    FederatedCredential,
    IssuerKeys,
    check_federated,
    looks_federated,
    parse_federated,
)
from support.federation import WorkloadIssuer

ISSUER = WorkloadIssuer()


def _credentials(**overrides: Any) -> list[FederatedCredential]:
    return [parse_federated(ISSUER.credential(**overrides))]


def _keys(issuer: WorkloadIssuer = ISSUER) -> IssuerKeys:
    keys = IssuerKeys()
    keys.register(issuer.issuer, issuer.jwks())
    return keys


def _refusal(assertion: str, credentials: list[FederatedCredential], keys: IssuerKeys) -> int:
    with pytest.raises(AssertionRefused) as refused:
        check_federated(assertion, credentials, keys, int(time.time()))
    return refused.value.code


def test_a_token_of_the_trusted_issuer_subject_and_audience_is_accepted() -> None:
    check_federated(ISSUER.token(), _credentials(), _keys(), int(time.time()))


def test_the_audience_may_be_a_single_string() -> None:
    token = ISSUER.token(aud="api://AzureADTokenExchange")

    check_federated(token, _credentials(), _keys(), int(time.time()))


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"iss": "https://elsewhere.test/"}, 700211),
        ({"sub": "system:serviceaccount:other:other"}, 700213),
        ({"aud": ["api://SomethingElse"]}, 700212),
        ({"exp": int(time.time()) - 10}, 700024),
        ({"nbf": int(time.time()) + 3600}, 700024),
    ],
)
def test_a_mismatch_is_refused_with_entras_code(claims: dict[str, Any], code: int) -> None:
    assert _refusal(ISSUER.token(**claims), _credentials(), _keys()) == code


def test_an_app_without_federated_credentials_refuses_with_70021() -> None:
    assert _refusal(ISSUER.token(), [], _keys()) == 70021


def test_an_issuer_whose_keys_cannot_be_read_refuses_with_50166() -> None:
    assert _refusal(ISSUER.token(), _credentials(), IssuerKeys()) == 50166


def test_a_key_the_issuer_does_not_publish_refuses_with_7000272() -> None:
    assert _refusal(ISSUER.token(kid="rotated-away"), _credentials(), _keys()) == 7000272


def test_a_token_signed_by_another_key_under_the_same_kid_refuses_with_50027() -> None:
    impostor = WorkloadIssuer(ISSUER.issuer, ISSUER.subject)
    forged = impostor.token(kid=ISSUER.kid)

    assert _refusal(forged, _credentials(), _keys()) == 50027


def test_something_not_a_jwt_refuses_with_50027() -> None:
    assert _refusal("not-a-token", _credentials(), _keys()) == 50027


def test_a_credential_with_its_own_audience_accepts_only_that_audience() -> None:
    credentials = _credentials(audiences=["api://custom"])

    check_federated(ISSUER.token(aud="api://custom"), credentials, _keys(), int(time.time()))
    assert _refusal(ISSUER.token(), credentials, _keys()) == 700212


def test_an_apps_own_assertion_is_not_taken_for_a_federated_one() -> None:
    client_id = "11111111-2222-3333-4444-555555555555"

    assert looks_federated({"iss": ISSUER.issuer}, {"kid": "k"}, client_id)
    assert not looks_federated({"iss": client_id}, {"kid": "k"}, client_id)
    assert not looks_federated({"iss": "someone-else"}, {"x5t": "AAAA"}, client_id)


@pytest.mark.parametrize(
    "body",
    [
        {"subject": "s"},
        {"issuer": "i"},
        {"issuer": "i", "subject": "s", "audiences": []},
        {"issuer": "i", "subject": "s", "audiences": ["a", "b"]},
        {"issuer": "i", "subject": "s", "claims": "x"},
        "not an object",
    ],
)
def test_an_incomplete_federated_credential_is_refused(body: Any) -> None:
    with pytest.raises(ValueError, match="federated credential|audiences"):
        parse_federated(body)


def test_a_jwks_without_keys_is_refused() -> None:
    with pytest.raises(ValueError, match="JWKS"):
        IssuerKeys().register("https://issuer.test/", {"keys": []})
