"""Syncer settings: `ENTRASYNC_NATS_URL` / `ENTRASYNC_PREFIX` plus `ENTRASYNC_SYNCER_*` knobs."""

from __future__ import annotations

from datetime import timedelta

from entrasync_shared.egress import EgressSettingsMixin
from entrasync_shared.settings import ConsumerSettingsMixin, ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from entrasync_syncer.domain import Redelivery, RetryPolicy
from entrasync_syncer.usecases.sync import RunOptions

PIN_MMAP_THRESHOLD_DEFAULT = False
"""Off: in `bench/sync_vs_sdk.py`'s syncer-alone runs (170k objects, 4 pairs, one run) pinning
took 1.32x the CPU (9.3x the page faults) for 0.97x the peak RSS (100 MB against 104 MB);
docs/performance.md has the figures."""


class Settings(ServiceSettings, ConsumerSettingsMixin, EgressSettingsMixin):
    model_config = SettingsConfigDict(env_prefix="ENTRASYNC_SYNCER_", frozen=True, extra="ignore")

    http_timeout: float = Field(30.0, gt=0, description="Seconds per Graph request")
    max_attempts: int = Field(10, ge=1, description="Tries per Graph request (429/5xx/network)")
    backoff_base: float = Field(0.5, gt=0, description="First backoff without Retry-After")
    backoff_cap: float = Field(30.0, gt=0, description="Longest backoff without Retry-After")
    max_retry_after: float = Field(
        300.0,
        gt=0,
        description="Longest Retry-After waited out in full; a longer one fails the type",
    )
    retry_budget: float = Field(
        300.0, gt=0, description="Most seconds one Graph request may spend waiting to retry"
    )
    link_lifetime_days: float = Field(
        7.0, gt=0, description="Age at which a stored deltaLink is no longer tried"
    )
    lease_seconds: float = Field(
        60.0, gt=0, description="A run's tenant lease lasts this long unless renewed"
    )
    lease_wait: float = Field(
        60.0, ge=0, description="Seconds a command waits for a busy tenant before a nak"
    )
    max_batch_bytes: int = Field(
        512 * 1024, ge=16 * 1024, description="Largest observation batch (NATS caps at 1 MB)"
    )
    credential_timeout: float = Field(10.0, gt=0, description="Seconds to wait for config")
    publish_timeout: float = Field(5.0, gt=0, description="Seconds to wait for a PubAck")
    ack_wait: float = Field(30.0, gt=0, description="Consumer ack wait (seconds)")
    keepalive: float = Field(10.0, gt=0, description="Seconds between in-progress signals")
    max_deliver: int = Field(10, ge=1, description="Deliveries of one command at most")
    nak_delay: float = Field(5.0, ge=0, description="Redelivery delay after a NATS failure")
    nak_delay_cap: float = Field(120.0, ge=0, description="Longest redelivery delay")
    fetch_timeout: float = Field(2.0, gt=0, description="Seconds per pull request")
    pin_mmap_threshold: bool = Field(
        PIN_MMAP_THRESHOLD_DEFAULT,
        description="Pin glibc's mmap threshold at 512 KiB (mallopt): a few MB less peak "
        "memory for about a third more CPU in a full sync",
    )

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.max_attempts,
            backoff_base=self.backoff_base,
            backoff_cap=self.backoff_cap,
            max_retry_after=self.max_retry_after,
            budget_seconds=self.retry_budget,
        )

    @property
    def redelivery(self) -> Redelivery:
        return Redelivery(
            max_deliver=self.max_deliver,
            max_failed_deliveries=self.max_failed_deliveries,
            nak_delay=self.nak_delay,
            nak_delay_cap=self.nak_delay_cap,
        )

    @property
    def run_options(self) -> RunOptions:
        return RunOptions(
            lease_wait=self.lease_wait,
            lease_poll=min(1.0, self.keepalive),
            lease_renew=self.keepalive,
            link_lifetime=timedelta(days=self.link_lifetime_days),
            max_batch_bytes=self.max_batch_bytes,
        )
