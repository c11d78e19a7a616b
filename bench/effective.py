"""Micro-benchmark of history's effective-membership domain on a synthetic `make bench` tenant.

    uv run --frozen python bench/effective.py                # 100k users, 20k groups, 30 roles
    uv run --frozen python bench/effective.py --scale 0.1    # a tenth of it

The tenant is shaped like the simulator's seed (skewed group sizes with a few 10k–25k whales;
devices, service principals and contacts among the members) plus what issue 20 adds: 10k
service principals, 2k contacts, 30 directory roles (a few users, service principals and
role-assignable groups each), 50 administrative units. One group in seven holds an earlier
group, never deeper than 5 levels. No I/O: the edges are built in memory first, as history
would load them, then measured:

- full: `EffectiveIndex.build` over every edge, then `everything()` (every principal's
  memberships with paths: what a first full sync computes), wall time and the process's peak
  RSS (VmHWM) before and after;
- one user added to a group nested 4 deep under a role (the issue's latency case);
- 1% of memberships changed at once (a new member in 1% of groups, one member removed from
  another 1%);
- the worst single edit: the biggest group put into a role and taken out again.

Untimed, it also weighs what a first sync would publish (`first_sync_event_mb`: the memberships
as JSON) and counts the principals with a nested or role membership.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import time
import uuid
from collections.abc import Iterator

from entrasync_history.domain.effective import EffectiveIndex, MembershipEdit
from entrasync_shared.members import MemberType

MAX_HEIGHT = 4  # a group holds groups at most 4 levels deep below it: 5 levels of nesting


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def ids(rng: random.Random, count: int) -> list[str]:
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count)]


def group_size(rng: random.Random, n: int, users: int) -> int:
    """The simulator's skew: mostly small, some hundreds, now and then thousands, few whales."""
    if n % 7000 == 3:
        return rng.randint(min(10_000, users // 4), min(25_000, users // 2))
    roll = rng.random()
    if roll < 0.1:
        return 0
    if roll < 0.85:
        return rng.randint(1, min(users, 40))
    if roll < 0.97:
        return rng.randint(1, min(users, 200))
    return rng.randint(1, min(users, 2000))


class Tenant:
    def __init__(self, scale: float, seed: int = 20) -> None:
        rng = random.Random(seed)
        self.users = ids(rng, int(100_000 * scale))
        self.devices = ids(rng, int(50_000 * scale))
        self.sps = ids(rng, int(10_000 * scale))
        self.contacts = ids(rng, int(2_000 * scale))
        self.groups = ids(rng, int(20_000 * scale))
        self.roles = ids(rng, 30)
        self.units = ids(rng, 50)
        self.height: dict[str, int] = {}
        self.members: dict[str, dict[str, MemberType]] = {}
        self._groups(rng)
        self.role_members = {r: self._role(rng) for r in self.roles}
        self.unit_members = {
            u: dict.fromkeys(rng.sample(self.users, rng.randint(*self._bounded(200, 2000))), "user")
            for u in self.units
        }

    def _groups(self, rng: random.Random) -> None:
        for n, gid in enumerate(self.groups):
            chosen: dict[str, MemberType] = dict.fromkeys(
                rng.sample(self.users, group_size(rng, n, len(self.users))), "user"
            )
            if rng.random() < 0.15:
                chosen[rng.choice(self.devices)] = "device"
            if rng.random() < 0.1:
                chosen[rng.choice(self.sps)] = "servicePrincipal"
            if rng.random() < 0.05:
                chosen[rng.choice(self.contacts)] = "orgContact"
            height = 0
            if n and rng.random() < 0.15:
                child = self.groups[rng.randrange(n)]
                if self.height[child] < MAX_HEIGHT:
                    chosen[child] = "group"
                    height = self.height[child] + 1
            self.height[gid] = height
            self.members[gid] = chosen

    def _role(self, rng: random.Random) -> dict[str, MemberType]:
        held: dict[str, MemberType] = dict.fromkeys(
            rng.sample(self.users, rng.randint(1, 5)), "user"
        )
        held.update(dict.fromkeys(rng.sample(self.sps, rng.randint(0, 3)), "servicePrincipal"))
        drawn = rng.sample(self.groups, min(200, len(self.groups)))
        nested = [g for g in drawn if self.height[g] >= 1]
        held.update(dict.fromkeys(nested[: rng.randint(1, 3)], "group"))
        return held

    def _bounded(self, low: int, high: int) -> tuple[int, int]:
        """A unit's size range, within the tenant's users (smaller scales)."""
        return min(low, len(self.users)), min(high, len(self.users))

    def edits(self) -> Iterator[MembershipEdit]:
        for gid, held in self.members.items():
            if held:
                yield MembershipEdit("group", gid, added=held)
        for n, rid in enumerate(self.roles):
            template = f"00000000-0000-4000-8000-{n:012d}"
            yield MembershipEdit(
                "directoryRole", rid, added=self.role_members[rid], role_template_id=template
            )
        for uid, held in self.unit_members.items():
            yield MembershipEdit("administrativeUnit", uid, added=held)

    def edge_count(self) -> int:
        held = [*self.members.values(), *self.role_members.values(), *self.unit_members.values()]
        return sum(map(len, held))


def deep_group(tenant: Tenant, index: EffectiveIndex) -> str:
    """A group 4 levels below a role (path role → g → g → g → this group), or the deepest."""
    best, depth = "", -1
    for gid in tenant.groups:
        under_roles = [
            len(m.path) for m in index.memberships(gid) if m.container.type == "directoryRole"
        ]
        if under_roles and max(under_roles) > depth:
            best, depth = gid, max(under_roles)
            if depth >= 4:
                return best
    return best


def measure(scale: float) -> dict[str, float | int]:
    started = time.perf_counter()
    tenant = Tenant(scale)
    edits = list(tenant.edits())
    results: dict[str, float | int] = {
        "users": len(tenant.users),
        "groups": len(tenant.groups),
        "edges": tenant.edge_count(),
        "seed_s": round(time.perf_counter() - started, 2),
        "rss_before_mb": round(rss_mb(), 1),
    }
    clock, cpu = time.perf_counter(), time.process_time()
    index = EffectiveIndex.build(edits)
    results["build_s"] = round(time.perf_counter() - clock, 2)
    results["rss_index_mb"] = round(rss_mb(), 1)
    principals = pairs = indirect = longest = 0
    for delta in index.everything():
        principals += 1
        pairs += len(delta.gained)
        for membership in delta.gained:
            indirect += not membership.direct
            longest = max(longest, len(membership.path))
    results["full_s"] = round(time.perf_counter() - clock, 2)
    # The machine may be shared: CPU time says what the computation itself costs.
    results["full_cpu_s"] = round(time.process_time() - cpu, 2)
    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    results["index_rss_mb"] = round(results["rss_index_mb"] - results["rss_before_mb"], 1)
    results.update(principals=principals, pairs=pairs, indirect_pairs=indirect, longest=longest)
    # Untimed: what publishing all of it on a first sync would weigh (memberships as JSON).
    nested_or_role = volume = role_pairs = 0
    for delta in index.everything():
        role_pairs += sum(m.container.type == "directoryRole" for m in delta.gained)
        entries = [
            [m.container.type, m.container.id, m.container.role_template_id, list(m.path)]
            for m in delta.gained
        ]
        volume += len(json.dumps(entries))
        nested_or_role += any(
            not m.direct or m.container.type == "directoryRole" for m in delta.gained
        )
    results["first_sync_event_mb"] = round(volume / 1e6, 1)
    results["principals_nested_or_in_roles"] = nested_or_role
    results["role_pairs"] = role_pairs
    # What a stored group closure would hold: one document per nested group.
    nested = [g for g in tenant.groups if index.ancestors(g)]
    results["nested_groups"] = len(nested)
    results["ancestor_entries"] = sum(len(index.ancestors(g)) for g in nested)

    target = deep_group(tenant, index)
    newcomer = str(uuid.uuid4())
    clock = time.perf_counter()
    deltas = index.apply([MembershipEdit("group", target, added={newcomer: "user"})])
    results["one_user_deep_ms"] = round((time.perf_counter() - clock) * 1000, 2)
    results["one_user_deep_gained"] = sum(len(d.gained) for d in deltas)
    results["one_user_deep_longest"] = max(len(m.path) for d in deltas for m in d.gained)

    rng = random.Random(1)
    changed = rng.sample(tenant.groups, max(1, len(tenant.groups) // 100))
    half = len(changed) // 2
    batch = [
        MembershipEdit("group", g, added={rng.choice(tenant.users): "user"}) for g in changed[:half]
    ]
    batch += [
        MembershipEdit("group", g, removed=frozenset(list(tenant.members[g])[:1]))
        for g in changed[half:]
        if tenant.members[g]
    ]
    clock = time.perf_counter()
    deltas = index.apply(batch)
    results["one_percent_s"] = round(time.perf_counter() - clock, 3)
    results["one_percent_principals"] = len(deltas)

    # The worst single edit: the biggest group (a 10k–25k whale) into a role, and out again.
    whale = max(tenant.groups, key=lambda g: len(tenant.members[g]))
    role = tenant.roles[0]
    clock = time.perf_counter()
    deltas = index.apply([MembershipEdit("directoryRole", role, added={whale: "group"})])
    results["whale_into_role_s"] = round(time.perf_counter() - clock, 3)
    results["whale_into_role_principals"] = len(deltas)
    clock = time.perf_counter()
    index.apply([MembershipEdit("directoryRole", role, removed=frozenset({whale}))])
    results["whale_out_of_role_s"] = round(time.perf_counter() - clock, 3)
    results["peak_rss_end_mb"] = round(peak_rss_mb(), 1)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="share of the 100k-user tenant")
    args = parser.parse_args()
    results = measure(args.scale)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
