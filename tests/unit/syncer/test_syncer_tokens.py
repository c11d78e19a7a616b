import pytest
from entrasync_shared.messages import Credential
from entrasync_syncer.adapters.tokens import client_credential
from entrasync_syncer.ports import TokenError
from syncer_fakes import credential


def test_a_secret_credential_gives_msal_the_secret() -> None:
    assert client_credential(credential()) == "s3cret-value"


def test_a_certificate_credential_gives_msal_key_thumbprint_and_certificate() -> None:
    fields = credential().model_dump(exclude={"client_secret"})
    cert = Credential.model_validate(
        {
            **fields,
            "kind": "certificate",
            "private_key_pem": "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----",
            "certificate_thumbprint": "AB:CD:EF",
            "certificate_pem": "-----BEGIN CERTIFICATE-----\nxyz\n-----END CERTIFICATE-----",
        }
    )

    assert client_credential(cert) == {
        "private_key": "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----",
        "thumbprint": "ABCDEF",
        "public_certificate": "-----BEGIN CERTIFICATE-----\nxyz\n-----END CERTIFICATE-----",
    }


def test_an_incomplete_certificate_credential_is_a_token_error() -> None:
    broken = credential().model_copy(update={"kind": "certificate", "client_secret": None})

    with pytest.raises(TokenError, match="certificate credential without"):
        client_credential(broken)
