"""Who is calling, which clouds exist, and how the services are."""

from __future__ import annotations

from typing import Annotated

from entrasync_shared.messages import Health
from entrasync_shared.natsutil import ApiCallError
from fastapi import Depends, Request

from entrasync_console.api.common import Me, router, services
from entrasync_console.core import ops
from entrasync_console.core.security import Principal, api_principal, console


@router.get(
    "/me", response_model=Me, tags=["session"], summary="Who is calling", operation_id="getMe"
)
async def me(principal: Annotated[Principal, Depends(api_principal)]) -> Me:
    return Me(name=principal.name, via=principal.via)


@router.get(
    "/clouds",
    response_model=list[str],
    tags=["tenants"],
    summary="Known Azure clouds",
    operation_id="listClouds",
)
async def clouds(request: Request) -> list[str]:
    return console(request).settings.cloud_names()


@router.get(
    "/services",
    response_model=list[Health],
    tags=["status"],
    summary="Service health",
    operation_id="getServiceHealth",
)
async def service_health(request: Request) -> list[Health]:
    found = []
    for service in ops.HEALTH:
        try:
            found.append(await ops.health(services(request), service))
        except ApiCallError as err:
            found.append(Health(service=service, ok=False, details={"error": err.error.message}))
    return found


# -- credential profiles ----------------------------------------------------------------------
