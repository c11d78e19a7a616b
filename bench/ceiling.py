"""The raw fetch ceiling: httpx reads the same full delta rounds as the syncer, concurrently
per object type, parses each page (it must, to find the next link) and throws it away.

Run by `sync_vs_sdk.py`: `python bench/ceiling.py '<target json>'`; prints one JSON line.
"""

from __future__ import annotations

import asyncio
import sys
import time

import httpx
from common import OBJECT_TYPES, Target, client_credentials_token, report
from entrasync_syncer.adapters.netstream import AsyncioTransport
from entrasync_syncer.domain import full_round_url


async def walk(client: httpx.AsyncClient, url: str, token: str) -> tuple[int, int]:
    pages = entries = 0
    link: str | None = url
    while link:
        response = await client.get(link, headers={"Authorization": f"Bearer {token}"})
        response.raise_for_status()
        body = response.json()
        pages += 1
        entries += len(body["value"])
        link = body.get("@odata.nextLink")
    return pages, entries


async def main(target: Target, transport: str) -> None:
    own = None
    if transport == "asyncio":
        own = AsyncioTransport(ssl_context=target.ssl_context(), limits=httpx.Limits())
    async with httpx.AsyncClient(
        verify=target.ssl_context(), trust_env=False, timeout=60, transport=own
    ) as client:
        token = await client_credentials_token(client, target)
        began = time.perf_counter()
        counts = await asyncio.gather(
            *(walk(client, full_round_url(target.graph_url, t), token) for t in OBJECT_TYPES)
        )
        wall = time.perf_counter() - began
    report(
        {
            "wall_s": round(wall, 3),
            "pages": sum(p for p, _ in counts),
            "entries": sum(e for _, e in counts),
        }
    )


if __name__ == "__main__":
    asyncio.run(main(Target.loads(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "default"))
