"""History's settings: NATS and MongoDB connections, the safe-delete guardrail, retention."""

from __future__ import annotations

from entrasync_shared.settings import ConsumerSettingsMixin, MongoSettingsMixin, ServiceSettings
from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings, MongoSettingsMixin, ConsumerSettingsMixin):
    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    history_db: str = Field(
        "entrasync_history", validation_alias=AliasChoices("ENTRASYNC_HISTORY_DB")
    )
    delete_guardrail_ratio: float = Field(
        0.2,
        ge=0,
        le=1,
        validation_alias=AliasChoices("ENTRASYNC_HISTORY_DELETE_GUARDRAIL_RATIO"),
        description="A full run may delete at most this share of a type's live objects",
    )
    delete_guardrail_min_objects: int = Field(
        10,
        ge=0,
        validation_alias=AliasChoices("ENTRASYNC_HISTORY_DELETE_GUARDRAIL_MIN_OBJECTS"),
        description="The guardrail only applies from this many live objects of a type",
    )
    retry_delay_seconds: float = Field(
        2.0,
        gt=0,
        validation_alias=AliasChoices("ENTRASYNC_HISTORY_RETRY_DELAY_SECONDS"),
        description="Redelivery delay after a transient MongoDB/NATS error",
    )
    finish_wait_seconds: float = Field(
        1.0,
        gt=0,
        validation_alias=AliasChoices("ENTRASYNC_HISTORY_FINISH_WAIT_SECONDS"),
        description="Seconds between retries of a run's finish held while its batches are missing",
    )
    finish_max_waits: int = Field(
        60,
        ge=1,
        validation_alias=AliasChoices("ENTRASYNC_HISTORY_FINISH_MAX_WAITS"),
        description="Retries of a held finish before its missing types are recorded Failed",
    )
    pipeline_ack_wait_seconds: float = Field(
        30.0,
        gt=0,
        validation_alias=AliasChoices("ENTRASYNC_HISTORY_PIPELINE_ACK_WAIT_SECONDS"),
        description="Seconds before a pipeline message a stopped history held is redelivered "
        "(nothing later is delivered meanwhile)",
    )
    keepalive_seconds: float = Field(
        10.0,
        gt=0,
        validation_alias=AliasChoices("ENTRASYNC_HISTORY_KEEPALIVE_SECONDS"),
        description="Seconds between in-progress signals while a message is being applied",
    )
    purge_sweep_seconds: float = Field(
        300.0,
        gt=0,
        validation_alias=AliasChoices("ENTRASYNC_HISTORY_PURGE_SWEEP_SECONDS"),
        description="Seconds between sweeps that erase stragglers of purged tenants",
    )
    outbox_retry_seconds: float = Field(
        30.0,
        gt=0,
        validation_alias=AliasChoices("ENTRASYNC_HISTORY_OUTBOX_RETRY_SECONDS"),
        description="Seconds between passes that publish events left in the outbox by a crash",
    )
    retention_days: int = Field(
        90,
        ge=1,
        le=3650,
        validation_alias=AliasChoices("ENTRASYNC_HISTORY_RETENTION_DAYS"),
        description="Sync History rows are kept this many whole UTC days (TTL index)",
    )

    @model_validator(mode="after")
    def _beats_within_ack_wait(self) -> Settings:
        if self.keepalive_seconds >= self.pipeline_ack_wait_seconds:
            raise ValueError(
                "ENTRASYNC_HISTORY_KEEPALIVE_SECONDS must be below "
                "ENTRASYNC_HISTORY_PIPELINE_ACK_WAIT_SECONDS"
            )
        return self
