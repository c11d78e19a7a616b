"""The baseline: what a user would write without entrasync.

Microsoft's official `msgraph-sdk` (with `azure-identity`) iterates the same full delta rounds,
and each object goes into MongoDB with its own upsert, one by one, type after type.

Run by `sync_vs_sdk.py`:
`python bench/sdk_baseline.py '<target json>' <mongodb uri> <db> <budget seconds>`; prints one
JSON line. It is slow (one write per object), so it stops after `budget` seconds (0: never) and
says whether it completed; its throughput is steady from the first pages on.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import sys
import time
import warnings
from typing import Any

import httpx
from azure.identity import ClientSecretCredential
from common import Target, report
from entrasync_syncer.domain import SELECTS
from pymongo import AsyncMongoClient

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # the SDK's own, at import
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph.generated.devices.delta.delta_request_builder import (
        DeltaRequestBuilder as DevicesDelta,
    )
    from msgraph.generated.groups.delta.delta_request_builder import (
        DeltaRequestBuilder as GroupsDelta,
    )
    from msgraph.generated.users.delta.delta_request_builder import (
        DeltaRequestBuilder as UsersDelta,
    )
    from msgraph_core import GraphClientFactory

warnings.simplefilter("ignore", DeprecationWarning)  # the SDK's request builders warn on use


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def document(object_type: str, obj: Any) -> dict[str, Any]:
    """The selected attributes of an SDK model, as a user would map them."""
    doc: dict[str, Any] = {}
    for attribute in SELECTS[object_type]:  # type: ignore[index]
        if attribute not in ("id", "members"):
            doc[attribute] = getattr(obj, snake(attribute), None)
    return doc


async def store(collection: Any, object_type: str, obj: Any) -> None:
    update: dict[str, Any] = {"$set": document(object_type, obj)}
    members = (obj.additional_data or {}).get("members@delta") if object_type == "group" else None
    if members:
        update["$addToSet"] = {"members": {"$each": [str(m["id"]) for m in members]}}
    await collection.update_one({"_id": obj.id}, update, upsert=True)


class OutOfTime(Exception):
    pass


async def round_of(
    builder: Any, config: Any, collection: Any, object_type: str, deadline: float, done: list[int]
) -> None:
    """Read one round, storing each object; `done` counts [pages, objects] as they go."""
    page = await builder.get(request_configuration=config)
    while True:
        done[0] += 1
        for obj in page.value or []:
            await store(collection, object_type, obj)
            done[1] += 1
        if time.perf_counter() > deadline:
            raise OutOfTime
        if not page.odata_next_link:
            return
        page = await builder.with_url(page.odata_next_link).get()


async def main(target: Target, mongodb_uri: str, db: str, budget: float) -> None:
    credential = ClientSecretCredential(
        target.tenant,
        target.client_id,
        target.client_secret,
        authority=target.authority_host,
        connection_verify=target.ca_file,
        disable_instance_discovery=True,
    )
    host = httpx.URL(target.graph_url).host
    auth = AzureIdentityAuthenticationProvider(
        credential, scopes=[f"{target.graph_url}/.default"], allowed_hosts=[host]
    )
    transport = httpx.AsyncHTTPTransport(verify=ssl.create_default_context(cafile=target.ca_file))
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(
            transport=transport, trust_env=False, timeout=60, base_url=f"{target.graph_url}/v1.0"
        )
    )
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = f"{target.graph_url}/v1.0"
    graph = GraphServiceClient(request_adapter=adapter)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_uri)
    rounds = (
        ("user", graph.users.delta, UsersDelta.DeltaRequestBuilderGetQueryParameters),
        ("group", graph.groups.delta, GroupsDelta.DeltaRequestBuilderGetQueryParameters),
        ("device", graph.devices.delta, DevicesDelta.DeltaRequestBuilderGetQueryParameters),
    )
    # Untimed warm-up: a token, and the SDK's lazily imported request builders and models.
    warm = UsersDelta.DeltaRequestBuilderGetQueryParameters(select=["id"])
    await graph.users.delta.get(request_configuration=RequestConfiguration(query_parameters=warm))
    done = [0, 0]
    complete = True
    began = time.perf_counter()
    deadline = began + budget if budget > 0 else float("inf")
    try:
        for object_type, builder, parameters in rounds:
            select = list(SELECTS[object_type])  # type: ignore[index]
            config = RequestConfiguration(query_parameters=parameters(select=select))
            collection = mongo[db][f"{object_type}s"]
            await round_of(builder, config, collection, object_type, deadline, done)
    except OutOfTime:
        complete = False
    finally:
        wall = time.perf_counter() - began
        await mongo.close()
        await transport.aclose()
        credential.close()
    report({"wall_s": round(wall, 3), "pages": done[0], "entries": done[1], "complete": complete})


if __name__ == "__main__":
    budget = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    asyncio.run(main(Target.loads(sys.argv[1]), sys.argv[2], sys.argv[3], budget))
