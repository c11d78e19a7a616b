"""Settings shared by every service (pydantic-settings).

Connection settings read ``ENTRASYNC_NATS_URL`` (or plain ``NATS_URL``), and services with a
database ``ENTRASYNC_MONGODB_URI`` (or ``MONGODB_URI``). ``ENTRASYNC_PREFIX`` isolates an
installation's subjects and streams (tests use it to run side by side on one server).
Every connection uses the inbox prefix of the NATS user its URL names, the only inboxes the
server lets that user read.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from entrasync_shared.subjects import Names, inbox_prefix


def user_in_url(url: str) -> str | None:
    """The NATS user named in `url` (`nats://user:password@host`; the first of a comma-separated
    list that names one), or None. A bare `nats://token@host` names a token, not a user: None."""
    for server in url.split(","):
        server = server.strip()
        parts = urlsplit(server if "://" in server else f"nats://{server}")
        if parts.username and parts.password is not None:
            return unquote(parts.username)
    return None


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
    def inbox_prefix(self) -> str:
        """This connection's inbox prefix (`inbox_prefix` of its user; `_INBOX` without one).
        `ValueError` (naming the user, not the URL: it holds the password) when the user's name
        cannot be one."""
        return inbox_prefix(user_in_url(self.nats_url))

    @property
    def names(self) -> Names:
        return Names(self.prefix, inbox=self.inbox_prefix)


class ConsumerSettingsMixin(BaseSettings):
    """Adds the redelivery bound of a service with durable JetStream consumers."""

    max_failed_deliveries: int = Field(
        5,
        ge=1,
        validation_alias=AliasChoices("ENTRASYNC_MAX_FAILED_DELIVERIES"),
        description="Deliveries of a message failing for a reason other than an outage before "
        "it is parked on the dead-letter subject (outages are retried without limit)",
    )


class MongoSettingsMixin(BaseSettings):
    """Adds the MongoDB connection to a service's settings."""

    mongodb_uri: str = Field(
        "mongodb://127.0.0.1:27017/?directConnection=true",
        validation_alias=AliasChoices("ENTRASYNC_MONGODB_URI", "MONGODB_URI"),
    )
