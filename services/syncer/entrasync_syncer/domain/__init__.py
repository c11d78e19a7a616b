"""The syncer's pure decisions (no I/O, no awaits): where a round starts (`plans`), how to
answer Graph's responses (`retries`), the tenant's filters (`filters`), reading delta pages
(`pages`) and remembering ids in little memory (`ids`)."""

from entrasync_syncer.domain.plans import (
    LINK_LIFETIME,
    SELECTS,
    Cursor,
    TypePlan,
    batch_id,
    directory_guid,
    full_round_url,
    plan_type,
)
from entrasync_syncer.domain.retries import Redelivery, RetryPolicy, classify, parse_retry_after

__all__ = [
    "LINK_LIFETIME",
    "SELECTS",
    "Cursor",
    "Redelivery",
    "RetryPolicy",
    "TypePlan",
    "batch_id",
    "classify",
    "directory_guid",
    "full_round_url",
    "parse_retry_after",
    "plan_type",
]
