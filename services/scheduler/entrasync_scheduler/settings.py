"""Settings of the scheduler service (environment variables, see each field's alias)."""

from __future__ import annotations

from entrasync_shared.contract.notifications import MAX_SUBSCRIPTION_MINUTES
from entrasync_shared.settings import ServiceSettings
from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import SettingsConfigDict


class SchedulerSettings(ServiceSettings):
    # Empty variables count as unset (generated env files list every setting, some empty).
    model_config = SettingsConfigDict(
        frozen=True, extra="ignore", validate_by_name=True, env_ignore_empty=True
    )

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
    # -- near real time (Graph change notifications) ----------------------------------------
    notification_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s]+$",
        validation_alias=AliasChoices("ENTRASYNC_NOTIFICATION_URL"),
        description="Public base URL of the notification receiver (Graph posts to its "
        "/notifications and /lifecycle); unset: no tenant is near real time",
    )
    nrt_poll_seconds: float = Field(
        3600.0,
        gt=0,
        validation_alias=AliasChoices("ENTRASYNC_NRT_POLL_SECONDS"),
        description="How often a near-real-time tenant's users and groups are polled anyway "
        "(the safety net for lost notifications)",
    )
    nrt_coalesce_seconds: float = Field(
        1.0,
        gt=0,
        validation_alias=AliasChoices("ENTRASYNC_NRT_COALESCE_SECONDS"),
        description="At most one notification round per tenant within this many seconds",
    )
    subscription_lifetime_seconds: int = Field(
        3 * 24 * 3600,
        ge=3600,
        le=MAX_SUBSCRIPTION_MINUTES * 60,
        validation_alias=AliasChoices("ENTRASYNC_SUBSCRIPTION_LIFETIME_SECONDS"),
        description="Expiry of a created or renewed Graph subscription (Graph allows at most "
        "41,760 minutes for users and groups)",
    )
    subscription_renew_before_seconds: int = Field(
        36 * 3600,
        gt=0,
        validation_alias=AliasChoices("ENTRASYNC_SUBSCRIPTION_RENEW_BEFORE_SECONDS"),
        description="Renew a Graph subscription when it expires within this long",
    )
    subscription_check_seconds: float = Field(
        600.0,
        gt=0,
        validation_alias=AliasChoices("ENTRASYNC_SUBSCRIPTION_CHECK_SECONDS"),
        description="How often subscriptions to renew, recreate, retry or delete are looked for",
    )

    @model_validator(mode="after")
    def _renewal_before_expiry(self) -> SchedulerSettings:
        if self.subscription_renew_before_seconds >= self.subscription_lifetime_seconds:
            raise ValueError(
                "ENTRASYNC_SUBSCRIPTION_RENEW_BEFORE_SECONDS must be shorter than "
                "ENTRASYNC_SUBSCRIPTION_LIFETIME_SECONDS"
            )
        return self
