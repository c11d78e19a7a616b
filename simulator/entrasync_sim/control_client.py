"""A small synchronous client for the simulator's control API."""

from __future__ import annotations

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

    def tenants(self) -> list[dict[str, str]]:
        """Tenants with their credentials, as in the ready line."""
        result: list[dict[str, str]] = self._call("GET", "/tenants")
        return result

    def state(self, tenant_id: str) -> dict[str, list[dict[str, Any]]]:
        """Live users, groups (with sorted `members` ids) and devices with all properties."""
        result: dict[str, list[dict[str, Any]]] = self._call("GET", f"/tenants/{tenant_id}/state")
        return result

    def create(self, tenant_id: str, kind: str, attrs: dict[str, Any]) -> dict[str, Any]:
        """Create a user, group or device; `attrs` may carry an `id`."""
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
        """Soft-delete (users, groups) or, with `hard`, purge; devices are always purged."""
        path = f"/tenants/{tenant_id}/{kind}/{object_id}"
        self._call("DELETE", path, params={"hard": "true" if hard else "false"})

    def restore(self, tenant_id: str, kind: str, object_id: str) -> dict[str, Any]:
        """Restore a soft-deleted user or group."""
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
        """Add and remove members of a group (all or nothing); returns the group."""
        body = {"add": add or [], "remove": remove or []}
        path = f"/tenants/{tenant_id}/groups/{group_id}/members"
        result: dict[str, Any] = self._call("POST", path, json=body)
        return result
