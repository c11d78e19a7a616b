"""Settings shared by every service (pydantic-settings).

Connection settings read ``ENTRASYNC_NATS_URL`` (or plain ``NATS_URL``), and services with a
database ``ENTRASYNC_MONGODB_URI`` (or ``MONGODB_URI``). ``ENTRASYNC_PREFIX`` isolates an
installation's subjects and streams (tests use it to run side by side on one server).
"""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from entrasync_shared.subjects import Names


class ServiceSettings(BaseSettings):
    """Base for each service's `Settings`: NATS connection and naming."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    nats_url: str = Field(
        "nats://127.0.0.1:4222",
        validation_alias=AliasChoices("ENTRASYNC_NATS_URL", "NATS_URL"),
    )
    prefix: str = Field("", validation_alias=AliasChoices("ENTRASYNC_PREFIX"))
    log_level: str = Field("INFO", validation_alias=AliasChoices("ENTRASYNC_LOG_LEVEL"))
    health_port: int = Field(
        0,
        ge=0,
        le=65535,
        validation_alias=AliasChoices("ENTRASYNC_HEALTH_PORT"),
        description="Port of the HTTP /livez and /readyz endpoints; 0 turns them off",
    )

    @property
    def names(self) -> Names:
        return Names(self.prefix)


class MongoSettingsMixin(BaseSettings):
    """Adds the MongoDB connection to a service's settings."""

    mongodb_uri: str = Field(
        "mongodb://127.0.0.1:27017/?directConnection=true",
        validation_alias=AliasChoices("ENTRASYNC_MONGODB_URI", "MONGODB_URI"),
    )
