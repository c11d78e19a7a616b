"""Settings of the receiver (environment variables, see each field's alias)."""

from __future__ import annotations

from pathlib import Path

from entrasync_shared.settings import ServiceSettings
from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import SettingsConfigDict


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class ReceiverSettings(ServiceSettings):
    # An empty variable (deploy/base/settings/receiver.env lists every one) means unset.
    model_config = SettingsConfigDict(
        frozen=True, extra="ignore", validate_by_name=True, env_ignore_empty=True
    )

    host: str = Field("0.0.0.0", validation_alias=_env("ENTRASYNC_RECEIVER_HOST"))
    port: int = Field(
        8090,
        ge=0,
        le=65535,
        validation_alias=_env("ENTRASYNC_RECEIVER_PORT"),
        description="Port of POST /notifications and /lifecycle (what the Ingress exposes)",
    )
    tls_cert_file: Path | None = Field(
        default=None,
        validation_alias=_env("ENTRASYNC_RECEIVER_TLS_CERT_FILE"),
        description="Serve HTTPS with this certificate (PEM); unset: plain HTTP behind an "
        "Ingress that terminates TLS",
    )
    tls_key_file: Path | None = Field(
        default=None, validation_alias=_env("ENTRASYNC_RECEIVER_TLS_KEY_FILE")
    )
    rate_per_second: float = Field(
        20.0,
        gt=0,
        validation_alias=_env("ENTRASYNC_RECEIVER_RATE_PER_SECOND"),
        description="Notification POSTs a tenant may cause per second and replica (429 beyond)",
    )
    rate_burst: float = Field(
        200.0,
        ge=1,
        validation_alias=_env("ENTRASYNC_RECEIVER_RATE_BURST"),
        description="POSTs a tenant may cause at once before the rate applies",
    )
    cache_seconds: float = Field(
        30.0,
        ge=0,
        validation_alias=_env("ENTRASYNC_RECEIVER_CACHE_SECONDS"),
        description="How long a subscription record read from the KV bucket is reused "
        "(a miss is always read again)",
    )
    publish_timeout: float = Field(
        2.0,
        gt=0,
        le=2.5,
        validation_alias=_env("ENTRASYNC_RECEIVER_PUBLISH_TIMEOUT_SECONDS"),
        description="Longest wait for JetStream's PubAcks before answering 503 (Graph wants an "
        "answer within 3 seconds)",
    )

    @model_validator(mode="after")
    def _both_or_neither(self) -> ReceiverSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("set both ENTRASYNC_RECEIVER_TLS_CERT_FILE and _KEY_FILE, or neither")
        return self
