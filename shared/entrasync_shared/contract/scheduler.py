"""The scheduler's API: `scheduler.sync_now`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from entrasync_shared.contract.common import Model, Request, SyncMode, SyncReason


class SyncNow(Request):
    """`scheduler.sync_now`: run the tenant at once (after its current run, if one is going)."""

    tenant_id: str = Field(max_length=64)


class SyncNowAccepted(Model):
    """The answer to `sync_now`: the run queued now, or `deferred` until `after_run` ends."""

    tenant_id: str
    status: Literal["queued", "deferred"]
    run_id: str | None = None
    mode: SyncMode | None = None
    reason: SyncReason | None = None
    after_run: str | None = None
