"""Helpers of the receiver's integration tests: subscription records in the KV bucket, Graph's
notification bodies, and the receiver's counters as its /metrics says."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from entrasync_receiver.domain.notifications import client_state_sha256
from entrasync_shared.messages import SubscriptionRecord
from entrasync_shared.subjects import NotifiableType
from nats.js.kv import KeyValue
from prometheus_client.parser import text_string_to_metric_families


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Subscription:
    """A Graph subscription as the syncer would record it, and the secret Graph would send."""

    def __init__(self, tenant_id: str, object_type: NotifiableType = "user") -> None:
        self.id = str(uuid.uuid4())
        self.client_state = secrets.token_urlsafe(32)
        self.entra_tenant_id = str(uuid.uuid4())
        self.tenant_id = tenant_id
        self.object_type: NotifiableType = object_type
        self.expires = datetime.now(UTC) + timedelta(days=2)

    def record(self) -> SubscriptionRecord:
        return SubscriptionRecord(
            subscription_id=self.id,
            tenant_id=self.tenant_id,
            entra_tenant_id=self.entra_tenant_id,
            object_type=self.object_type,
            resource="users" if self.object_type == "user" else "groups",
            client_state_sha256=client_state_sha256(self.client_state),
            expires_at=self.expires,
            updated_at=datetime.now(UTC),
        )

    async def write(self, bucket: KeyValue) -> Subscription:
        await bucket.put(self.id, self.record().model_dump_json().encode())
        return self

    def item(self, **overrides: Any) -> dict[str, Any]:
        """One change notification as Graph sends it for a directory object."""
        object_id = str(uuid.uuid4())
        item: dict[str, Any] = {
            "subscriptionId": self.id,
            "subscriptionExpirationDateTime": iso(self.expires),
            "changeType": "updated",
            "resource": f"Users/{object_id}",
            "resourceData": {
                "@odata.type": "#Microsoft.Graph.User",
                "@odata.id": f"Users/{object_id}",
                "id": object_id,
                "organizationId": self.entra_tenant_id,
            },
            "clientState": self.client_state,
            "tenantId": self.entra_tenant_id,
        }
        item.update(overrides)
        return item

    def lifecycle(self, event: str) -> dict[str, Any]:
        return {
            "subscriptionId": self.id,
            "subscriptionExpirationDateTime": iso(self.expires),
            "tenantId": self.entra_tenant_id,
            "clientState": self.client_state,
            "lifecycleEvent": event,
        }


def body(*items: dict[str, Any]) -> bytes:
    return json.dumps({"value": list(items)}).encode()


async def counters(metrics_url: str) -> dict[tuple[str, ...], float]:
    """The receiver's counters from its /metrics: (metric, label values in label-name order)
    → value."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(metrics_url)).text
    found: dict[tuple[str, ...], float] = {}
    for family in text_string_to_metric_families(text):
        if not family.name.startswith("entrasync_receiver_"):
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                labels = sorted(sample.labels.items())
                found[(sample.name, *(value for _, value in labels))] = sample.value
    return found
