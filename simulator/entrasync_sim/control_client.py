"""A small synchronous client for the simulator's control API."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import httpx

from entrasync_sim.tls import client_ssl_context


class ControlError(Exception):
    """The control API refused a request; `status` and `code` come from its error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class SimulatorControl:
    """Mutate and inspect a running simulator: `with SimulatorControl(url, ca) as control:`."""

    def __init__(self, control_url: str, ca_file: str, timeout: float = 10.0) -> None:
        self._http = httpx.Client(
            base_url=control_url.rstrip("/"),
            verify=client_ssl_context(ca_file),
            timeout=timeout,
            trust_env=False,
        )

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                raise ControlError(response.status_code, error["code"], error["message"])
            except (ValueError, KeyError, TypeError):
                raise ControlError(response.status_code, "unknown", response.text) from None
        return None if response.status_code == 204 else response.json()

    def tenants(self) -> list[dict[str, Any]]:
        """Tenants with their credentials, as in the ready line."""
        result: list[dict[str, Any]] = self._call("GET", "/tenants")
        return result

    def add_tenant(
        self,
        *,
        users: int = 100,
        groups: int = 10,
        devices: int = 20,
        service_principals: int | None = None,
        applications: int | None = None,
        contacts: int | None = None,
        administrative_units: int | None = None,
    ) -> dict[str, Any]:
        """Seed and serve one more tenant (random GUIDs, app and certificate); returns its entry,
        keys as in the ready line. Counts left None scale with `users`."""
        body: dict[str, Any] = {"users": users, "groups": groups, "devices": devices}
        optional = {
            "service_principals": service_principals,
            "applications": applications,
            "contacts": contacts,
            "administrative_units": administrative_units,
        }
        body |= {name: value for name, value in optional.items() if value is not None}
        result: dict[str, Any] = self._call("POST", "/tenants", json=body)
        return result

    def truth(self, tenant_id: str, type: str) -> list[dict[str, Any]]:
        """Live objects of one type (`user|group|device|servicePrincipal|orgContact|application|
        directoryRole|administrativeUnit|roleEligibility`) with all properties; groups, roles and
        units carry `members`, the sorted ids of their live members, and `memberTypes`, each
        member's type (`user`, `servicePrincipal`, `orgContact`...)."""
        path = f"/tenants/{tenant_id}/truth"
        result: list[dict[str, Any]] = self._call("GET", path, params={"type": type})
        return result

    def mutate(self, tenant_id: str, operations: Sequence[dict[str, Any]]) -> list[str]:
        """Apply a batch (all checked first, then applied in order); one id per operation."""
        path = f"/tenants/{tenant_id}/mutations"
        result = self._call("POST", path, json={"operations": list(operations)})
        return list(result["ids"])

    def state(self, tenant_id: str) -> dict[str, list[dict[str, Any]]]:
        """Live objects of every kind by collection name (`users`, `groups`, ...,
        `directoryRoles`, `roleEligibilitySchedules`), as `truth` gives them."""
        result: dict[str, list[dict[str, Any]]] = self._call("GET", f"/tenants/{tenant_id}/state")
        return result

    def create(self, tenant_id: str, kind: str, attrs: dict[str, Any]) -> dict[str, Any]:
        """Create an object of any kind (a directory role: activate it); `attrs` may carry an
        `id`."""
        result: dict[str, Any] = self._call("POST", f"/tenants/{tenant_id}/{kind}", json=attrs)
        return result

    def update(
        self, tenant_id: str, kind: str, object_id: str, attrs: dict[str, Any]
    ) -> dict[str, Any]:
        """Merge `attrs` into an object (None stores null)."""
        path = f"/tenants/{tenant_id}/{kind}/{object_id}"
        result: dict[str, Any] = self._call("PATCH", path, json=attrs)
        return result

    def delete(self, tenant_id: str, kind: str, object_id: str, hard: bool = False) -> None:
        """Soft-delete (users, Microsoft 365 groups, applications, service principals,
        administrative units) or, with `hard`, purge; other kinds are always purged."""
        path = f"/tenants/{tenant_id}/{kind}/{object_id}"
        self._call("DELETE", path, params={"hard": "true" if hard else "false"})

    def restore(self, tenant_id: str, kind: str, object_id: str) -> dict[str, Any]:
        """Restore a soft-deleted object (a kind `delete` soft-deletes)."""
        path = f"/tenants/{tenant_id}/{kind}/{object_id}/restore"
        result: dict[str, Any] = self._call("POST", path)
        return result

    def change_members(
        self,
        tenant_id: str,
        group_id: str,
        add: list[str] | None = None,
        remove: list[str] | None = None,
    ) -> dict[str, Any]:
        """Add and remove members of a group, directory role or administrative unit (all or
        nothing); returns it."""
        body = {"add": add or [], "remove": remove or []}
        path = f"/tenants/{tenant_id}/groups/{group_id}/members"
        result: dict[str, Any] = self._call("POST", path, json=body)
        return result

    # -- faults, clock, settings ---------------------------------------------------------

    def inject_fault(
        self,
        endpoint: str = "*",
        *,
        status: int | None = None,
        count: int | None = None,
        probability: float = 1.0,
        after: int = 0,
        retry_after: str | float | None = None,
        latency: float = 0.0,
        reset: bool = False,
        tenant_id: str | None = None,
        error_code: str | None = None,
        seed: int = 0,
    ) -> str:
        """Add a fault rule (see the README); returns its id."""
        body = {
            "endpoint": endpoint,
            "status": status,
            "count": count,
            "probability": probability,
            "after": after,
            "retry_after": None if retry_after is None else str(retry_after),
            "latency": latency,
            "reset": reset,
            "tenant_id": tenant_id,
            "error_code": error_code,
            "seed": seed,
        }
        result = self._call("POST", "/faults", json=body)
        return str(result["id"])

    def faults(self) -> list[dict[str, Any]]:
        """Active rules with `seen` (matching requests) and `hits` (times fired)."""
        result: list[dict[str, Any]] = self._call("GET", "/faults")
        return result

    def remove_fault(self, fault_id: str) -> None:
        self._call("DELETE", f"/faults/{fault_id}")

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def advance_clock(self, seconds: float) -> str:
        """Move simulated time forward; returns the new now (ISO-8601)."""
        return str(self._call("POST", "/clock", json={"advance": seconds})["now"])

    def now(self) -> str:
        return str(self._call("GET", "/clock")["now"])

    def configure(
        self,
        *,
        page_size: int | None = None,
        member_slice: int | None = None,
        token_lifetime: int | None = None,
        delta_link_lifetime: int | None = None,
    ) -> dict[str, Any]:
        """Change process-wide settings (None keeps a setting); returns all settings."""
        body = {
            "page_size": page_size,
            "member_slice": member_slice,
            "token_lifetime": token_lifetime,
            "delta_link_lifetime": delta_link_lifetime,
        }
        sent = {k: v for k, v in body.items() if v is not None}
        result: dict[str, Any] = self._call("PATCH", "/settings", json=sent)
        return result

    def set_throttling(
        self,
        *,
        enabled: bool = True,
        budget: int | None = None,
        window: float = 10.0,
        app_budget: int = 150_000,
        app_window: float = 20.0,
        max_retry_after: float = 300.0,
    ) -> dict[str, Any]:
        """Replace the throttling budgets (`budget=None`: Graph's numbers by tenant size) and
        empty the buckets' debts; `max_retry_after` bounds the debt a client can run up."""
        body = {
            "enabled": enabled,
            "budget": budget,
            "window": window,
            "app_budget": app_budget,
            "app_window": app_window,
            "max_retry_after": max_retry_after,
        }
        result: dict[str, Any] = self._call("PUT", "/throttling", json=body)
        return result

    def throttling(self) -> dict[str, Any]:
        """The current throttling settings."""
        result: dict[str, Any] = self._call("GET", "/throttling")
        return result

    # -- per tenant behaviour ------------------------------------------------------------

    def delta_quirks(self, tenant_id: str) -> dict[str, Any]:
        """The tenant's current delta quirks."""
        result: dict[str, Any] = self._call("GET", f"/tenants/{tenant_id}/quirks")
        return result

    def reset_tenant(self, tenant_id: str, types: Iterable[str] | None = None) -> None:
        """Links issued so far (for `types`, default all) answer 410 Gone with a Location."""
        body = {"types": list(types)} if types is not None else {}
        self._call("POST", f"/tenants/{tenant_id}/reset", json=body)

    def set_delta_quirks(
        self,
        tenant_id: str,
        *,
        duplicates: float = 0.0,
        replays: float = 0.0,
        empty_pages: float = 0.0,
        missed_restores: float = 0.0,
        seed: int = 0,
    ) -> dict[str, Any]:
        """Probabilities of duplicated objects, replayed changes, empty pages and restores
        left out of `$select` delta rounds."""
        body = {
            "duplicates": duplicates,
            "replays": replays,
            "empty_pages": empty_pages,
            "missed_restores": missed_restores,
            "seed": seed,
        }
        result: dict[str, Any] = self._call("PUT", f"/tenants/{tenant_id}/quirks", json=body)
        return result

    def set_replication_lag(self, tenant_id: str, seconds: float) -> dict[str, Any]:
        """Changes reach delta rounds `seconds` after they were made (0: at once)."""
        body = {"seconds": seconds}
        result: dict[str, Any] = self._call("PUT", f"/tenants/{tenant_id}/lag", json=body)
        return result

    def replication_lag(self, tenant_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/tenants/{tenant_id}/lag")
        return result

    # -- apps ----------------------------------------------------------------------------

    def apps(self, tenant_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", f"/tenants/{tenant_id}/apps")
        return result

    def add_app(
        self,
        tenant_id: str,
        *,
        permissions: Sequence[str] = ("Directory.Read.All",),
        secret: bool = True,
        certificate: bool = True,
        federated: Sequence[Mapping[str, Any]] = (),
    ) -> dict[str, Any]:
        """Register another app; returns it with its secret and certificate material.

        `federated` lists its federated identity credentials (`issuer`, `subject`, optional
        `audiences` and `name`).
        """
        body = {
            "permissions": list(permissions),
            "secret": secret,
            "certificate": certificate,
            "federated": [dict(f) for f in federated],
        }
        result: dict[str, Any] = self._call("POST", f"/tenants/{tenant_id}/apps", json=body)
        return result

    def _patch_app(self, tenant_id: str, client_id: str, body: dict[str, Any]) -> dict[str, Any]:
        path = f"/tenants/{tenant_id}/apps/{client_id}"
        result: dict[str, Any] = self._call("PATCH", path, json=body)
        return result

    def set_federated(
        self, tenant_id: str, client_id: str, federated: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Replace an app's federated identity credentials."""
        return self._patch_app(tenant_id, client_id, {"federated": [dict(f) for f in federated]})

    def trust_issuer(self, issuer: str, jwks: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Publish an external issuer's signing keys (what Entra reads from its `jwks_uri`)."""
        body = {"issuer": issuer, "jwks": dict(jwks)}
        result: list[dict[str, Any]] = self._call("PUT", "/issuers", json=body)
        return result

    def set_permissions(
        self, tenant_id: str, client_id: str, permissions: Sequence[str]
    ) -> dict[str, Any]:
        """Replace an app's Graph application permissions (for tokens issued from now on)."""
        return self._patch_app(tenant_id, client_id, {"permissions": list(permissions)})

    def expire_secret(self, tenant_id: str, client_id: str) -> dict[str, Any]:
        """The app's secret is expired from the simulated now on (401 AADSTS7000222)."""
        return self._patch_app(tenant_id, client_id, {"secret_expires_at": self.now()})

    def set_secret_expiry(
        self, tenant_id: str, client_id: str, expires_at: str | None
    ) -> dict[str, Any]:
        """Set (ISO-8601) or clear (None) the app's secret expiry."""
        return self._patch_app(tenant_id, client_id, {"secret_expires_at": expires_at})

    # -- change notifications ------------------------------------------------------------

    def subscriptions(self, tenant_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", f"/tenants/{tenant_id}/subscriptions")
        return result

    def notifications(self, tenant_id: str) -> list[dict[str, Any]]:
        """Every POST the simulator made to a subscriber (`url`, `kind`, `status`, `body`,
        `attempt`, `at`), and every notification it lost (`status` "dropped") or gave up on
        (`status` "discarded"), each with a `reason`."""
        result: list[dict[str, Any]] = self._call("GET", f"/tenants/{tenant_id}/notifications")
        return result

    def send_lifecycle_event(
        self,
        tenant_id: str,
        subscription_id: str,
        event: str = "reauthorizationRequired",
        grace: float = 0.0,
    ) -> None:
        """POST a lifecycle notification to the subscription's lifecycleNotificationUrl and
        apply its effect: `subscriptionRemoved` deletes the subscription;
        `reauthorizationRequired` pauses its change notifications `grace` simulated seconds
        from now until the app reauthorizes or renews it; `missed` only signals."""
        path = f"/tenants/{tenant_id}/subscriptions/{subscription_id}/lifecycle"
        self._call("POST", path, json={"event": event, "grace": grace})

    def set_notification_delivery(
        self,
        tenant_id: str,
        *,
        delay: float = 0.0,
        loss: float = 0.0,
        drop_next: int = 0,
        seed: int = 0,
    ) -> dict[str, Any]:
        """Replace the tenant's delivery conditions: `delay` seconds before each change
        notification's first POST, the next `drop_next` notifications lost, then each lost
        with probability `loss` (1.0 loses all; seeded by `seed`). Defaults switch both off."""
        body = {"delay": delay, "loss": loss, "drop_next": drop_next, "seed": seed}
        result: dict[str, Any] = self._call("PUT", f"/tenants/{tenant_id}/delivery", json=body)
        return result

    def notification_delivery(self, tenant_id: str) -> dict[str, Any]:
        """The tenant's delivery conditions, with `lost`: notifications lost so far."""
        result: dict[str, Any] = self._call("GET", f"/tenants/{tenant_id}/delivery")
        return result

    def set_subscription_quotas(
        self, *, per_app_and_tenant: int = 100, per_tenant: int = 1000, per_app: int = 50_000
    ) -> dict[str, Any]:
        """Replace the subscription quotas (defaults: Graph's for users and groups)."""
        body = {
            "per_app_and_tenant": per_app_and_tenant,
            "per_tenant": per_tenant,
            "per_app": per_app,
        }
        result: dict[str, Any] = self._call("PUT", "/subscription-quotas", json=body)
        return result

    def subscription_quotas(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/subscription-quotas")
        return result

    def set_notification_throttling(
        self,
        *,
        enabled: bool = True,
        slow_after: float = 2.9,
        min_responses: int = 100,
        flag_share: float = 0.10,
        drop_share: float = 0.15,
        window: float = 600.0,
        delay: float = 600.0,
    ) -> dict[str, Any]:
        """Replace the slow-endpoint throttling policy (defaults: Graph's documented numbers)
        and forget every endpoint's counts: a response slower than `slow_after` s is slow;
        after `min_responses` in a `window`, an endpoint with `flag_share` slow ones is
        throttled (held back `delay` s; dropped at `drop_share`)."""
        body = {
            "enabled": enabled,
            "slow_after": slow_after,
            "min_responses": min_responses,
            "flag_share": flag_share,
            "drop_share": drop_share,
            "window": window,
            "delay": delay,
        }
        result: dict[str, Any] = self._call("PUT", "/notification-throttling", json=body)
        return result

    def notification_throttling(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/notification-throttling")
        return result
