"""The effective membership API's answers, from the inventory's edges and the stored closure
(docs/effective-membership.md, "Queries").

"Who is effectively in X": the groups the closure names below X, their members and X's own.
"What is Y effectively in": Y's holders and their stored ancestors. Each loads an index of just
that and asks it, so the paths are the index's (shortest, then smallest by ids).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from entrasync_shared.members import MemberType
from entrasync_shared.messages import (
    EffectiveContainer,
    EffectiveMember,
    EffectiveMembers,
    EffectiveMembership,
    EffectiveMemberships,
    EffectiveMembershipsQuery,
    EffectiveMembersQuery,
    PrivilegedRole,
    PrivilegedRoles,
    PrivilegedRolesQuery,
)

from entrasync_history.domain.effective import EffectiveIndex, Neighbourhood, Path
from entrasync_history.domain.effective_plan import ContainerEdges
from entrasync_history.ports import EffectiveReader


async def _below(
    reader: EffectiveReader, tenant_id: str, tops: list[ContainerEdges]
) -> tuple[EffectiveIndex, dict[str, MemberType]]:
    """An index of `tops` and every group nested below them, and their members' types."""
    nested = await reader.nested_under(tenant_id, [t.id for t in tops])
    groups = await reader.groups(tenant_id, nested.keys()) if nested else []
    part = Neighbourhood(
        groups=tuple(c.edit() for c in [*tops, *groups]),
        roles={t.id: t.role_template_id for t in tops if t.type == "directoryRole"},
    )
    kinds: dict[str, MemberType] = {}
    for box in [*tops, *groups]:
        kinds.update(box.members)
    kinds.update({g.id: "group" for g in groups})
    return EffectiveIndex.loaded(part), kinds


def _ordered(found: Mapping[str, Path]) -> list[tuple[str, Path]]:
    return sorted(found.items(), key=lambda item: (len(item[1]), item[1], item[0]))


def _member(
    member: str, path: Path, kinds: Mapping[str, MemberType], names: Mapping[str, str]
) -> EffectiveMember:
    return EffectiveMember(
        type=kinds.get(member, "unknown"),
        id=member,
        display_name=names.get(member) or None,
        path=path,
        direct=len(path) == 1,
    )


async def _names(
    reader: EffectiveReader, tenant_id: str, ids: Iterable[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Display names (id → name, known ones only) and object types of `ids`."""
    found = await reader.names(tenant_id, set(ids))
    return (
        {i: name for i, (_, name) in found.items() if name},
        {i: kind for i, (kind, _) in found.items()},
    )


def _container(box: ContainerEdges, names: Mapping[str, str]) -> EffectiveContainer:
    return EffectiveContainer(
        type=box.type,
        id=box.id,
        display_name=box.display_name or names.get(box.id),
        role_template_id=box.role_template_id,
    )


async def effective_members(
    reader: EffectiveReader, query: EffectiveMembersQuery
) -> EffectiveMembers | None:
    """A container's effective members, one page; None when the tenant holds no such live
    container."""
    tenant = query.tenant_id
    boxes = await reader.containers(tenant, {query.container_id})
    if not boxes:
        return None
    box = boxes[0]
    if box.type == "administrativeUnit":  # nothing flows through a unit
        found: Mapping[str, Path] = {m: (box.id,) for m in box.members}
        kinds = dict(box.members)
    else:
        index, kinds = await _below(reader, tenant, [box])
        found = index.members(box.id)
    ordered = _ordered(found)
    start = (query.page - 1) * query.page_size
    page = ordered[start : start + query.page_size]
    on_paths = {c for _, path in page for c in path}
    names, _ = await _names(reader, tenant, {m for m, _ in page} | on_paths | {box.id})
    return EffectiveMembers(
        tenant_id=tenant,
        container=_container(box, names),
        items=tuple(_member(m, path, kinds, names) for m, path in page),
        total=len(ordered),
        direct=sum(1 for _, path in ordered if len(path) == 1),
        page=query.page,
        page_size=query.page_size,
        names={c: names[c] for c in sorted(on_paths) if c in names},
    )


async def effective_memberships(
    reader: EffectiveReader, query: EffectiveMembershipsQuery
) -> EffectiveMemberships:
    """What a principal is effectively in (nothing for an id no container holds)."""
    tenant, principal = query.tenant_id, query.principal_id
    holders = await reader.holders(tenant, {principal})
    parents = [h.id for h in holders if h.type != "administrativeUnit"]
    part = Neighbourhood(
        groups=tuple(h.edit() for h in holders),
        ancestors=await reader.ancestors(tenant, parents) if parents else {},
        roles=await reader.role_templates(tenant),
    )
    found = EffectiveIndex.loaded(part).memberships(principal)
    on_paths = {c for m in found for c in m.path}
    names, types = await _names(reader, tenant, on_paths | {principal})
    kind: MemberType = next(
        (h.members[principal] for h in holders if principal in h.members),
        types.get(principal, "unknown"),  # type: ignore[arg-type]
    )
    return EffectiveMemberships(
        tenant_id=tenant,
        principal_id=principal,
        principal_type=kind,
        display_name=names.get(principal),
        items=tuple(
            EffectiveMembership(
                container=EffectiveContainer(
                    type=m.container.type,
                    id=m.container.id,
                    display_name=names.get(m.container.id),
                    role_template_id=m.container.role_template_id,
                ),
                path=m.path,
                direct=m.direct,
            )
            for m in found
        ),
        names={c: names[c] for c in sorted(on_paths) if c in names},
    )


async def privileged_roles(reader: EffectiveReader, query: PrivilegedRolesQuery) -> PrivilegedRoles:
    """Every live directory role with its direct and effective members, by display name."""
    tenant = query.tenant_id
    roles = await reader.roles(tenant)
    index, kinds = await _below(reader, tenant, roles)
    held = {r.id: _ordered(index.members(r.id)) for r in roles}
    shown = {r: found[: query.max_members] for r, found in held.items()}
    ids = {m for found in shown.values() for m, path in found} | {
        c for found in shown.values() for _, path in found for c in path
    }
    names, _ = await _names(reader, tenant, ids)
    items = []
    for role in sorted(roles, key=lambda r: ((r.display_name or "").lower(), r.id)):
        direct = [(m, (role.id,)) for m in sorted(role.members)]
        items.append(
            PrivilegedRole(
                id=role.id,
                display_name=role.display_name,
                role_template_id=role.role_template_id,
                direct_members=tuple(_member(m, p, kinds, names) for m, p in direct),
                effective_members=tuple(_member(m, p, kinds, names) for m, p in shown[role.id]),
                effective_total=len(held[role.id]),
            )
        )
    on_paths = {c for found in shown.values() for _, path in found for c in path}
    return PrivilegedRoles(
        tenant_id=tenant,
        items=tuple(items),
        names={c: names[c] for c in sorted(on_paths) if c in names},
    )
