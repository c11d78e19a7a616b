"""Settings of the config service (environment variables, see each field's alias)."""

from __future__ import annotations

from pathlib import Path

from entrasync_shared.clouds import CloudRegistry, CustomCloud
from entrasync_shared.egress import EgressSettingsMixin
from entrasync_shared.settings import ConsumerSettingsMixin, MongoSettingsMixin, ServiceSettings
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

KEY_VARIABLE = "ENTRASYNC_CONFIG_ENCRYPTION_KEY"
KEY_FILE_VARIABLE = "ENTRASYNC_CONFIG_ENCRYPTION_KEY_FILE"


class ConfigSettings(
    ServiceSettings, MongoSettingsMixin, ConsumerSettingsMixin, EgressSettingsMixin
):
    """Secrets are sealed with keys from `ENTRASYNC_CONFIG_ENCRYPTION_KEY` or from the file named
    by `ENTRASYNC_CONFIG_ENCRYPTION_KEY_FILE` (one of them is required, there is no default).

    Either holds one or more keys, newest first. Generate one with ``entrasync-config genkey``.
    """

    # Empty variables count as unset (generated env files list every setting, most empty).
    model_config = SettingsConfigDict(
        frozen=True, extra="ignore", validate_by_name=True, env_ignore_empty=True
    )

    db: str = Field("entrasync_config", validation_alias=AliasChoices("ENTRASYNC_CONFIG_DB"))
    encryption_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(KEY_VARIABLE),
        description="Keys (32 random bytes, URL-safe base64), comma-separated, newest first",
    )
    encryption_key_file: Path | None = Field(
        default=None,
        validation_alias=AliasChoices(KEY_FILE_VARIABLE),
        description="A file (e.g. a mounted Kubernetes Secret) with one key per line, newest first",
    )
    clouds: dict[str, CustomCloud] = Field(
        default_factory=dict,
        validation_alias=AliasChoices("ENTRASYNC_CLOUDS"),
        description="JSON object: cloud name -> {authority_host, graph_url, ca_file}",
    )
    test_timeout_seconds: float = Field(
        20.0,
        gt=0,
        le=120,
        validation_alias=AliasChoices("ENTRASYNC_CONFIG_TEST_TIMEOUT_SECONDS"),
        description="Default bound of one Test Connection",
    )
    outbox_interval_seconds: float = Field(
        5.0,
        gt=0,
        validation_alias=AliasChoices("ENTRASYNC_CONFIG_OUTBOX_INTERVAL_SECONDS"),
        description="How often events that could not be published at once are retried",
    )
    fetch_timeout_seconds: float = Field(
        1.0,
        gt=0,
        le=60,
        validation_alias=AliasChoices("ENTRASYNC_CONFIG_FETCH_TIMEOUT_SECONDS"),
        description="Longest wait of one pull of the sync.recorded consumer",
    )

    notification_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("ENTRASYNC_NOTIFICATION_URL"),
        description="Public HTTPS base URL of the notification receiver; unset: tenants cannot "
        "turn near real time on",
    )

    @model_validator(mode="after")
    def _one_key_source(self) -> ConfigSettings:
        if self.encryption_key is None and self.encryption_key_file is None:
            raise ValueError(
                f"no encryption key: set {KEY_VARIABLE} or {KEY_FILE_VARIABLE} "
                "(generate a key with `entrasync-config genkey`)"
            )
        if self.encryption_key is not None and self.encryption_key_file is not None:
            raise ValueError(f"set {KEY_VARIABLE} or {KEY_FILE_VARIABLE}, not both")
        return self

    def encryption_keys(self) -> tuple[str, str]:
        """The configured keys as text, and where they came from (for error messages)."""
        if self.encryption_key is not None:
            return self.encryption_key.get_secret_value(), KEY_VARIABLE
        assert self.encryption_key_file is not None
        try:
            return self.encryption_key_file.read_text(), str(self.encryption_key_file)
        except OSError as err:
            raise ValueError(
                f"{KEY_FILE_VARIABLE}: cannot read {self.encryption_key_file}: {err.strerror}"
            ) from None

    def cloud_registry(self) -> CloudRegistry:
        return CloudRegistry(self.clouds)
