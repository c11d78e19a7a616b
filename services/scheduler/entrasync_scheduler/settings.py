"""Settings of the scheduler service (environment variables, see each field's alias)."""

from __future__ import annotations

from entrasync_shared.settings import ServiceSettings
from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict


class SchedulerSettings(ServiceSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", validate_by_name=True)

    reconcile_seconds: float = Field(
        60.0,
        gt=0,
        validation_alias=AliasChoices("ENTRASYNC_SCHEDULER_RECONCILE_SECONDS"),
        description="How often the full tenant list is fetched from config",
    )
    lost_after_seconds: float = Field(
        1800.0,
        gt=0,
        validation_alias=AliasChoices("ENTRASYNC_SCHEDULER_LOST_AFTER_SECONDS"),
        description="A run that has not reported back after this long is declared lost",
    )
    jitter_seconds: float = Field(
        5.0,
        ge=0,
        validation_alias=AliasChoices("ENTRASYNC_SCHEDULER_JITTER_SECONDS"),
        description="Largest per-tenant start offset within a slot; 0 disables jitter",
    )
    tick_seconds: float = Field(
        1.0,
        gt=0,
        validation_alias=AliasChoices("ENTRASYNC_SCHEDULER_TICK_SECONDS"),
        description="Longest pause between two looks at the schedule",
    )
    busy_recheck_seconds: float = Field(
        5.0,
        gt=0,
        validation_alias=AliasChoices("ENTRASYNC_SCHEDULER_BUSY_RECHECK_SECONDS"),
        description="How soon a tenant whose queue holds another command is looked at again",
    )
    refresh_links_seconds: float = Field(
        6 * 24 * 3600.0,
        gt=0,
        le=7 * 24 * 3600.0,
        validation_alias=AliasChoices("ENTRASYNC_SCHEDULER_REFRESH_LINKS_SECONDS"),
        description="Longest gap between two runs, so delta links never reach Graph's 7 days",
    )
    # On by default: Graph can leave a restore out of `$select` delta rounds for good
    # (microsoft-graph-docs#5821), and only a full round lists the object again.
    full_scan_every_seconds: float = Field(
        24 * 3600.0,
        ge=0,
        validation_alias=AliasChoices("ENTRASYNC_SCHEDULER_FULL_SCAN_EVERY_SECONDS"),
        description="Force a full scan when the last full success is this old; 0 = never",
    )
    config_timeout_seconds: float = Field(
        5.0,
        gt=0,
        validation_alias=AliasChoices("ENTRASYNC_SCHEDULER_CONFIG_TIMEOUT_SECONDS"),
    )
