"""What a periodic verification of a `$select` users round costs (issue 17, point 2).

A restore can be missing from a `$select` delta round (microsoft-graph-docs#5821), so something
must look again now and then. This compares, on one simulated tenant (100k users by default,
throttling off, the simulator's default page size), the users rounds the candidates would make:

- the syncer's full round (its `$select`), what a periodic full scan reads;
- an id-only full round (`$select=id`), the cheapest listing to compare against an inventory;
- the delta round after 1% of the users changed, and after nothing changed.

`uv run --frozen python bench/select_verification.py [--users 100000]`; prints a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx
from common import Target, client_credentials_token
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from entrasync_syncer.domain import full_round_url


async def walk(client: httpx.AsyncClient, url: str, token: str) -> dict[str, float | str]:
    """Read a round to its end: requests, entries, bytes, seconds and its deltaLink."""
    requests = entries = size = 0
    link: str | None = url
    began = time.perf_counter()
    delta_link = ""
    while link:
        response = await client.get(link, headers={"Authorization": f"Bearer {token}"})
        response.raise_for_status()
        body = response.json()
        requests += 1
        size += len(response.content)
        entries += len(body["value"])
        link = body.get("@odata.nextLink")
        delta_link = body.get("@odata.deltaLink", delta_link)
    seconds = round(time.perf_counter() - began, 2)
    return {
        "requests": requests,
        "entries": entries,
        "mb": round(size / 2**20, 1),
        "seconds": seconds,
        "link": delta_link,
    }


async def measure(sim: SimulatorProcess, users: int) -> list[tuple[str, dict[str, float | str]]]:
    app = sim.tenants[0]
    target = Target(
        sim.graph_url,
        sim.authority_host,
        sim.ca_file,
        app["tenant_id"],
        app["client_id"],
        app["client_secret"],
    )
    full_url = full_round_url(sim.graph_url, "user")
    ids_url = f"{sim.graph_url}/v1.0/users/delta?$select=id"
    rows = []
    async with httpx.AsyncClient(verify=target.ssl_context(), trust_env=False, timeout=120) as c:
        token = await client_credentials_token(c, target)
        rows.append(
            ("full round, syncer's $select (first, pages rendered)", await walk(c, full_url, token))
        )
        full = await walk(c, full_url, token)
        rows.append(("full round, syncer's $select (again, pages cached)", full))
        rows.append(("id-only full round ($select=id)", await walk(c, ids_url, token)))
        rows.append(("delta round, nothing changed", await walk(c, str(full["link"]), token)))
        with SimulatorControl(sim.control_url, sim.ca_file) as control:
            ids = [u["id"] for u in control.state(app["tenant_id"])["users"]][: users // 100]
            ops = [
                {"op": "update", "type": "user", "id": i, "attrs": {"jobTitle": "Moved"}}
                for i in ids
            ]
            control.mutate(app["tenant_id"], ops)
        rows.append(("delta round, 1% changed", await walk(c, str(full["link"]), token)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    args = parser.parse_args()
    extra = ("--throttling", "off")
    with SimulatorProcess(users=args.users, groups=10, devices=10, extra_args=extra) as sim:
        rows = asyncio.run(measure(sim, args.users))
    print(f"users: {args.users}\n")
    print("| round | requests | entries | MiB | seconds |\n|---|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r['requests']} | {r['entries']} | {r['mb']} | {r['seconds']} |")


if __name__ == "__main__":
    main()
