"""Groups hold service principals and organisational contacts too, and `members@delta` types
every member with `@odata.type` (group-delta.md; issue 17, point 4)."""

from __future__ import annotations

from typing import Any

import httpx
from entrasync_sim.control_client import SimulatorControl
from sim_helpers import latest_link, run_round

SELECT = "displayName,members"
ODATA = "#microsoft.graph."


def typed_members(entries: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Group id → member id → type, from the `members@delta` additions of a round."""
    found: dict[str, dict[str, str]] = {}
    for entry in entries:
        for ref in entry.get("members@delta", []):
            if "@removed" not in ref:
                found.setdefault(entry["id"], {})[ref["id"]] = ref["@odata.type"]
    return found


def test_seeded_groups_hold_service_principals_and_contacts_typed_in_a_full_round(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, str]
) -> None:
    state = control.state(tenant["tenant_id"])
    assert state["servicePrincipals"] and state["contacts"]

    seen = typed_members(run_round(graph, f"/v1.0/groups/delta?$select={SELECT}").entries)

    truth = {g["id"]: g["memberTypes"] for g in control.truth(tenant["tenant_id"], "group")}
    assert {g: {m: ODATA + t for m, t in types.items()} for g, types in truth.items() if types} == (
        seen
    )
    kinds = {t for types in seen.values() for t in types.values()}
    assert {ODATA + "servicePrincipal", ODATA + "orgContact", ODATA + "user"} <= kinds
    sps = {sp["id"] for sp in state["servicePrincipals"]}
    assert all(
        (t == ODATA + "servicePrincipal") == (m in sps) for g in seen.values() for m, t in g.items()
    )


def test_a_delta_round_types_added_and_removed_service_principals_and_contacts(
    graph: httpx.Client, control: SimulatorControl, tenant: dict[str, str]
) -> None:
    tid = tenant["tenant_id"]
    link = latest_link(graph, "groups", SELECT)
    state = control.state(tid)
    group = state["groups"][-1]["id"]
    sp, contact = state["servicePrincipals"][-1]["id"], state["contacts"][-1]["id"]

    control.change_members(tid, group, add=[sp, contact])
    added = run_round(graph, link)
    control.change_members(tid, group, remove=[contact])
    removed = run_round(graph, added.delta_link)

    def refs(entries: list[dict[str, Any]]) -> set[tuple[str, str, bool]]:
        return {
            (r["id"], r["@odata.type"].removeprefix(ODATA), "@removed" in r)
            for e in entries
            if e["id"] == group
            for r in e["members@delta"]
        }

    assert refs(added.entries) == {(sp, "servicePrincipal", False), (contact, "orgContact", False)}
    assert refs(removed.entries) == {(contact, "orgContact", True)}
    [truth] = [g for g in control.truth(tid, "group") if g["id"] == group]
    assert truth["memberTypes"][sp] == "servicePrincipal" and contact not in truth["memberTypes"]
