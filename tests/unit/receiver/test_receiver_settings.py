"""The receiver's settings as deploy/ gives them: every variable listed, empty meaning unset."""

from __future__ import annotations

import pytest
from entrasync_receiver.settings import ReceiverSettings
from pydantic import ValidationError


def test_empty_tls_variables_mean_plain_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENTRASYNC_RECEIVER_TLS_CERT_FILE", "")
    monkeypatch.setenv("ENTRASYNC_RECEIVER_TLS_KEY_FILE", "")
    settings = ReceiverSettings()
    assert (settings.tls_cert_file, settings.tls_key_file) == (None, None)
    assert (settings.port, settings.publish_timeout) == (8090, 2.0)


def test_a_certificate_without_its_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENTRASYNC_RECEIVER_TLS_CERT_FILE", "/run/tls/tls.crt")
    with pytest.raises(ValidationError, match="both"):
        ReceiverSettings()


def test_the_publish_wait_stays_within_graphs_three_seconds() -> None:
    with pytest.raises(ValidationError):
        ReceiverSettings(publish_timeout=3.0)
