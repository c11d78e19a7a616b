"""One catalog entry is all it takes: permissions, the AsyncAPI document, the routers' start-up
check and the typed client follow the catalog, and nothing else declares a verb by hand.

The recipe this proves is in ARCHITECTURE.md ("Add an API verb").
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from types import ModuleType

import pytest
from entrasync_shared import asyncapi, catalog, permissions
from entrasync_shared.catalog import Endpoint, NoArguments
from entrasync_shared.kit.api import ApiRouter
from entrasync_shared.messages import Health
from entrasync_shared.subjects import Names

NAMES = Names()
PURGE: Endpoint[NoArguments, Health] = Endpoint(
    "history", "objects.purge", NoArguments, Health, ("console",), "A verb the recipe adds."
)


@pytest.fixture
def catalog_with_a_new_verb(monkeypatch: pytest.MonkeyPatch) -> Endpoint[NoArguments, Health]:
    monkeypatch.setattr(catalog, "ENDPOINTS", (*catalog.ENDPOINTS, PURGE))
    return PURGE


def test_permissions_follow_a_new_endpoint(catalog_with_a_new_verb: Endpoint) -> None:
    subject = catalog_with_a_new_verb.subject(NAMES)
    users = permissions.service_permissions(NAMES)
    assert subject in users["console"]["publish"]["allow"]
    assert subject in users["history"]["subscribe"]["allow"]
    for user in ("config", "scheduler", "syncer", "reader"):
        assert subject not in users[user]["publish"]["allow"], user


def test_the_asyncapi_document_follows_a_new_endpoint(catalog_with_a_new_verb: Endpoint) -> None:
    document = asyncapi.build(NAMES)
    addresses = {c["address"] for c in document["channels"].values()}
    assert catalog_with_a_new_verb.subject(NAMES) in addresses
    assert "history_answer_api_history_objects_purge" in document["operations"]
    json.dumps(document)


def test_a_router_refuses_to_start_without_a_handler_for_it(
    catalog_with_a_new_verb: Endpoint,
) -> None:
    router: ApiRouter[None] = ApiRouter("history")
    for endpoint in catalog.endpoints("history"):
        if endpoint is not catalog_with_a_new_verb:
            router.handles(endpoint)(_unused)
    with pytest.raises(ValueError, match=r"missing \['objects.purge'\]"):
        router.check()
    router.handles(catalog_with_a_new_verb)(_unused)
    router.check()


async def _unused(request: object, deps: object) -> object:
    raise AssertionError("not called")


def _routers(package: str) -> list[ApiRouter[object]]:
    """Every `ApiRouter` declared at module level in `package`."""
    root = importlib.import_module(package)
    found: list[ApiRouter[object]] = []
    modules: list[ModuleType] = [root]
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        modules.append(importlib.import_module(info.name))
    for module in modules:
        found += [value for value in vars(module).values() if isinstance(value, ApiRouter)]
    return found


@pytest.mark.parametrize("service", catalog.SERVICES)
def test_each_service_answers_exactly_its_catalog_endpoints(service: str) -> None:
    routers = _routers(f"entrasync_{service}.entrypoints")
    assert [r.service for r in routers] == [service]
    routers[0].check()
