"""Settings of the config service (environment variables, see each field's alias)."""

from __future__ import annotations

from entrasync_shared.clouds import CloudRegistry, CustomCloud
from entrasync_shared.settings import MongoSettingsMixin, ServiceSettings
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict


class ConfigSettings(ServiceSettings, MongoSettingsMixin):
    """`ENTRASYNC_CONFIG_ENCRYPTION_KEY` has no default: without it the service refuses to start.

    Generate one with ``entrasync-config genkey``.
    """

    model_config = SettingsConfigDict(frozen=True, extra="ignore", validate_by_name=True)

    db: str = Field("entrasync_config", validation_alias=AliasChoices("ENTRASYNC_CONFIG_DB"))
    encryption_key: SecretStr = Field(
        validation_alias=AliasChoices("ENTRASYNC_CONFIG_ENCRYPTION_KEY"),
        description="32 random bytes, URL-safe base64 (`entrasync-config genkey`)",
    )
    clouds: dict[str, CustomCloud] = Field(
        default_factory=dict,
        validation_alias=AliasChoices("ENTRASYNC_CLOUDS"),
        description="JSON object: cloud name -> {authority_host, graph_url, ca_file}",
    )

    def cloud_registry(self) -> CloudRegistry:
        return CloudRegistry(self.clouds)
