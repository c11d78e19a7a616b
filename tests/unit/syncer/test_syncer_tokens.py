from pathlib import Path

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


def _federated(path: str | None) -> Credential:
    fields = credential().model_dump(exclude={"client_secret"})
    return Credential.model_validate({**fields, "kind": "federated", "federated_token_file": path})


def test_a_federated_credential_gives_msal_a_reader_of_the_token_file(tmp_path: Path) -> None:
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text("first.jwt.token\n")
    cred = client_credential(_federated(str(token_file)))
    assert isinstance(cred, dict) and set(cred) == {"client_assertion"}
    read = cred["client_assertion"]

    first = read()
    token_file.write_text("rotated.jwt.token")

    assert (first, read()) == ("first.jwt.token", "rotated.jwt.token")


def test_a_federated_credential_without_a_path_reads_azure_federated_token_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from.the.environment")
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))

    cred = client_credential(_federated(None))

    assert isinstance(cred, dict) and cred["client_assertion"]() == "from.the.environment"


def test_a_federated_credential_with_no_token_file_anywhere_is_a_token_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AZURE_FEDERATED_TOKEN_FILE", raising=False)

    with pytest.raises(TokenError, match="AZURE_FEDERATED_TOKEN_FILE is not set"):
        client_credential(_federated(None))


def test_the_same_token_file_keeps_one_msal_application() -> None:
    a, b = (client_credential(_federated("/var/run/token")) for _ in range(2))

    assert repr(sorted(a.items())) == repr(sorted(b.items()))  # type: ignore[union-attr]
