"""`make bench`'s effective-membership figures (issue 20, point 6): the nested chain the
latency rounds add users to, the percentile, and the summary keys (pure; unit-tested in
tests/unit/bench/test_bench_effective_figures.py)."""

from __future__ import annotations

import random
import re
from typing import Any

CHAIN_DEPTH = 5
"""Groups in the chain: its innermost group is nested 4 deep (the issue's case), within the
tenant's nesting depth of at most 5."""
LATENCY_ROUNDS = 20
"""Delta rounds of the latency figure, each adding one user to the innermost group."""


def chain_operations(depth: int = CHAIN_DEPTH, label: str = "bench-nested") -> list[dict[str, Any]]:
    """Simulator control operations creating `depth` security groups, each a member of the one
    before: `$n` names the n-th operation's id, so the result's first `depth` ids are the chain
    from the top group down to the innermost."""
    if depth < 1:
        raise ValueError("a chain holds at least one group")
    creates = [
        {
            "op": "create",
            "type": "group",
            "attrs": {
                "displayName": f"{label} {level}",
                "securityEnabled": True,
                "mailEnabled": False,
                "groupTypes": [],
            },
        }
        for level in range(depth)
    ]
    nesting = [
        {"op": "add_member", "group_id": f"${level}", "member_id": f"${level + 1}"}
        for level in range(depth - 1)
    ]
    return creates + nesting


def membership_changes(
    groups: list[dict[str, Any]], users: list[str], rng: random.Random, share: float = 0.01
) -> list[dict[str, Any]]:
    """Simulator control operations changing `share` of the groups' memberships (`groups`: the
    simulator's truth, each with `members`): half of them existing memberships removed, half
    users added to groups they are not in (any group takes users)."""
    edges = [(g["id"], member) for g in groups for member in g["members"]]
    count = max(2, round(len(edges) * share))
    removals = rng.sample(edges, min(count // 2, len(edges)))
    held = set(edges)
    additions: set[tuple[str, str]] = set()
    wanted = count - len(removals)
    for _ in range(wanted * 20):  # bounded: a tiny, full tenant may have no room left
        if len(additions) == wanted or not groups or not users:
            break
        pair = (rng.choice(groups)["id"], rng.choice(users))
        if pair not in held:
            additions.add(pair)
    return [
        *({"op": "remove_member", "group_id": g, "member_id": m} for g, m in removals),
        *({"op": "add_member", "group_id": g, "member_id": m} for g, m in sorted(additions)),
    ]


COMPUTED = re.compile(
    r"effective membership computed in (?P<wall_s>[0-9.]+) s \((?P<cpu_s>[0-9.]+) s CPU; "
    r"(?P<edges>\d+) edges, (?P<nested_groups>\d+) nested groups, "
    r"(?P<role_holders>\d+) role holders\)"
)
"""The line history logs once its first computation is done (usecases/effective.py); CPU is
history's whole process's over the same span."""


def computed_in_history(log_lines: list[str]) -> dict[str, Any] | None:
    """history's first computation as it logged it: wall and CPU seconds, edges read, nested
    groups and role holders (the first such line: a bench tenant is computed once). None
    without one."""
    for line in log_lines:
        found = COMPUTED.search(line)
        if found:
            return {
                key: float(value) if key.endswith("_s") else int(value)
                for key, value in found.groupdict().items()
            }
    return None


def nearest_rank(values: list[float], q: float) -> float | None:
    """The q-quantile by the rank the bench's other latencies use (`sorted[int(q * (n - 1))]`);
    None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def latency_figures(
    from_round: list[float], from_change: list[float], rounds: int
) -> dict[str, Any]:
    """One latency phase: `from_round` / `from_change` hold the seconds from each round's start
    (its command published) / from its control-API change to the user's `effective_changed`
    event; a round whose event never came has no entry (`missing`)."""
    return {
        "rounds": rounds,
        "missing": rounds - len(from_round),
        "p50_s": _rounded(nearest_rank(from_round, 0.5)),
        "p95_s": _rounded(nearest_rank(from_round, 0.95)),
        "max_s": _rounded(max(from_round, default=None)),
        "from_change_p95_s": _rounded(nearest_rank(from_change, 0.95)),
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def rss_ratio(with_memberships: float, without: float) -> float | None:
    """Peak RSS of a round changing memberships over one changing none, minus one (0.05 = 5%
    more); None when the round without changes was not sampled."""
    return round(with_memberships / without - 1, 3) if without else None


def summary(effective: dict[str, Any]) -> dict[str, Any]:
    """`summary`'s effective-membership keys from `end_to_end.effective`."""
    full, latency, rounds = effective["full"], effective["latency"], effective["rss_rounds"]
    return {
        "effective_membership_full_s": full["wall_s"] if full else None,
        "effective_membership_rss_mb": effective["history_peak_rss_mb_first_sync"],
        "effective_event_latency_p95_s": latency["p95_s"],
        "effective_1pct_round_rss_vs_plain": rss_ratio(
            rounds["memberships_peak_rss_mb"], rounds["plain_peak_rss_mb"]
        ),
    }


TARGETS = {
    "effective_membership_full_s": "<= 10",
    "effective_membership_rss_mb": "<= 300",
    "effective_event_latency_p95_s": "<= 1",
    "effective_1pct_round_rss_vs_plain": "<= 0.10",
}


def _s(value: float | None) -> str:
    return "never (events missing)" if value is None else f"{value:.2f} s"


def _first(full: dict[str, Any] | None) -> str:
    if full is None:
        return "not logged by history"
    return (
        f"**{full['wall_s']:.2f} s** ({full['cpu_s']:.2f} s CPU; target ≤ 10 s; "
        f"{full['edges']} edges, {full['nested_groups']} nested groups, "
        f"{full['role_holders']} role holders)"
    )


def note(effective: dict[str, Any]) -> str:
    """The printed table's line on effective membership."""
    full, latency, rounds = effective["full"], effective["latency"], effective["rss_rounds"]
    ratio = rss_ratio(rounds["memberships_peak_rss_mb"], rounds["plain_peak_rss_mb"])
    shown = "n/a" if ratio is None else f"{100 * ratio:+.1f}%"
    first_sync_rss = effective["history_peak_rss_mb_first_sync"]
    return (
        f"- Effective membership: the first computation (history's own, from its log) "
        f"{_first(full)}; "
        f"history's peak RSS over the first sync **{first_sync_rss:.0f} MB** (target ≤ 300); "
        f"one user added to a group nested {latency['chain_depth'] - 1} "
        f"deep, {latency['rounds']} delta rounds: round start → its `effective_changed` event "
        f"p95 **{_s(latency['p95_s'])}** (target ≤ 1 s; from the change "
        f"{_s(latency['from_change_p95_s'])})"
        + (f", {latency['missing']} events missing" if latency["missing"] else "")
        + "; history's sampled peak RSS in a round changing 1% of memberships "
        f"{rounds['memberships_peak_rss_mb']:.0f} MB vs {rounds['plain_peak_rss_mb']:.0f} MB "
        "in a round without membership changes "
        f"({shown}, target ≤ +10%)."
    )
