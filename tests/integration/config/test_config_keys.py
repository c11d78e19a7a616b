"""Key rotation: old secrets stay readable, new ones use the newest key, re-encryption moves all."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from config_helpers import CLIENT_ID, api, result
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from entrasync_config.adapters.crypto import AesGcmSecretBox, generate_key, parse_key
from entrasync_config.main import build_app
from entrasync_config.settings import ConfigSettings
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient
from pydantic import SecretStr
from pymongo.asynchronous.database import AsyncDatabase

SCRIPT = str(Path(sys.executable).parent / "entrasync-config")


def with_keys(settings: ConfigSettings, keys: str) -> ConfigSettings:
    return settings.model_copy(
        update={"encryption_key": SecretStr(keys), "encryption_key_file": None}
    )


async def secret_of(nc: NatsClient, names: Names, tenant_id: str) -> dict[str, Any]:
    return await api(nc, names, "credential.get", {"tenant_id": tenant_id})


async def register(nc: NatsClient, names: Names, name: str, secret: str) -> str:
    body = {"name": name, "client_id": CLIENT_ID, "client_secret": secret}
    profile = await result(nc, names, "profile.create", body)
    tenant = await result(
        nc, names, "tenant.create", {"tenant": f"{name}.example.com", "profile_id": profile["id"]}
    )
    return str(tenant["id"])


async def test_a_rotated_key_keeps_old_secrets_readable_until_reencrypted(
    nc: NatsClient, names: Names, config_settings: ConfigSettings, config_db: AsyncDatabase[Any]
) -> None:
    old, new = generate_key(), generate_key()
    async with build_app(with_keys(config_settings, old)):
        first = await register(nc, names, "first", "old-secret")

    async with build_app(with_keys(config_settings, f"{new},{old}")):
        before = await result(nc, names, "health", {})
        second = await register(nc, names, "second", "new-secret")
        moved = await result(nc, names, "keys.reencrypt", {})
        after = await result(nc, names, "health", {})
        readable = await secret_of(nc, names, first)

    new_id = AesGcmSecretBox.from_setting(new).key_id
    assert before["details"]["secrets_on_old_keys"] == "1"
    assert moved == {"key_id": new_id, "total": 2, "reencrypted": 1, "unreadable": []}
    assert after["details"] == {**after["details"], "key_id": new_id, "secrets_on_old_keys": "0"}
    assert readable["result"]["client_secret"] == "old-secret"
    assert {d["key_id"] async for d in config_db.profiles.find()} == {new_id}
    async with build_app(with_keys(config_settings, new)):
        for tenant_id, secret in ((first, "old-secret"), (second, "new-secret")):
            assert (await secret_of(nc, names, tenant_id))["result"]["client_secret"] == secret
    async with build_app(with_keys(config_settings, old)):
        refused = await secret_of(nc, names, first)
    assert refused["error"]["code"] == "unavailable"
    assert "reencrypt" in refused["error"]["message"] and "old-secret" not in str(refused)


async def test_keys_may_come_from_a_mounted_file_and_the_command_reencrypts(
    nc: NatsClient,
    names: Names,
    config_settings: ConfigSettings,
    config_db: AsyncDatabase[Any],
    tmp_path: Path,
) -> None:
    old, new = generate_key(), generate_key()
    async with build_app(with_keys(config_settings, old)):
        tenant_id = await register(nc, names, "filed", "file-secret")
    key_file = tmp_path / "keys"
    key_file.write_text(f"# newest first\n{new}\n{old}\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ENTRASYNC_")},
        "ENTRASYNC_MONGODB_URI": config_settings.mongodb_uri,
        "ENTRASYNC_CONFIG_DB": config_settings.db,
        "ENTRASYNC_CONFIG_ENCRYPTION_KEY_FILE": str(key_file),
    }

    done = await asyncio.to_thread(
        subprocess.run,
        [SCRIPT, "reencrypt"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["total"], summary["reencrypted"], summary["unreadable"]) == (1, 1, [])
    only_new = config_settings.model_copy(
        update={"encryption_key": None, "encryption_key_file": key_file}
    )
    key_file.write_text(new)
    async with build_app(only_new):
        credential = await secret_of(nc, names, tenant_id)
    assert credential["result"]["client_secret"] == "file-secret"
    assert "file-secret" not in done.stdout + done.stderr


async def test_an_older_secret_copied_back_in_the_database_is_refused(
    nc: NatsClient, names: Names, config_settings: ConfigSettings, config_db: AsyncDatabase[Any]
) -> None:
    async with build_app(config_settings):
        tenant_id = await register(nc, names, "rolled", "first-secret")
        [old] = await config_db.profiles.find().to_list()
        body = {"profile_id": old["_id"], "version": 1, "client_secret": "second-secret"}
        await result(nc, names, "profile.update", body)
        await config_db.profiles.update_one(
            {"_id": old["_id"]}, {"$set": {"sealed_secret": old["sealed_secret"]}}
        )

        refused = await secret_of(nc, names, tenant_id)
        health = await result(nc, names, "health", {})

    assert refused["ok"] is False and refused["error"]["code"] == "unavailable"
    assert "does not belong to its version 2 (secret)" in refused["error"]["message"]
    assert "put back from an older copy" in refused["error"]["message"]
    assert "first-secret" not in json.dumps(refused) and health["ok"]


async def test_a_secret_switched_to_the_other_kind_in_the_database_is_refused(
    nc: NatsClient, names: Names, config_settings: ConfigSettings, config_db: AsyncDatabase[Any]
) -> None:
    async with build_app(config_settings):
        tenant_id = await register(nc, names, "switched", "a-client-secret")
        await config_db.profiles.update_one({}, {"$set": {"kind": "certificate"}})

        refused = await secret_of(nc, names, tenant_id)

    assert refused["error"]["code"] == "unavailable"
    assert "does not belong to its version 1 (certificate)" in refused["error"]["message"]
    assert "a-client-secret" not in json.dumps(refused)


def id_only_blob(key: str, plaintext: str, profile_id: str) -> bytes:
    """A secret as config sealed it before bindings carried version and kind (format 2)."""
    raw, nonce = parse_key(key), os.urandom(12)
    sealed = AESGCM(raw).encrypt(nonce, plaintext.encode(), profile_id.encode())
    return b"\x02" + bytes.fromhex(AesGcmSecretBox([raw]).key_id) + nonce + sealed


async def test_old_blobs_stay_readable_and_reencrypt_upgrades_them_by_their_inner_key_id(
    nc: NatsClient, names: Names, config_settings: ConfigSettings, config_db: AsyncDatabase[Any]
) -> None:
    old, new = generate_key(), generate_key()
    new_id = AesGcmSecretBox.from_setting(new).key_id
    async with build_app(with_keys(config_settings, old)):
        legacy = await register(nc, names, "legacy", "legacy-secret")
        lying = await register(nc, names, "lying", "lying-secret")
    for name, secret in (("legacy", "legacy-secret"), ("lying", "lying-secret")):
        doc = await config_db.profiles.find_one({"name": name})
        assert doc is not None
        # "lying" claims, in the field beside the blob, to be sealed with the new key already.
        key_id = new_id if name == "lying" else doc["key_id"]
        blob = id_only_blob(old, secret, doc["_id"])
        await config_db.profiles.update_one(
            {"_id": doc["_id"]}, {"$set": {"sealed_secret": blob, "key_id": key_id}}
        )

    async with build_app(with_keys(config_settings, f"{new},{old}")):
        readable = await secret_of(nc, names, legacy)
        moved = await result(nc, names, "keys.reencrypt", {})
        after = await result(nc, names, "health", {})

    assert readable["result"]["client_secret"] == "legacy-secret"
    assert (moved["total"], moved["reencrypted"], moved["unreadable"]) == (2, 2, [])
    assert after["details"]["secrets_on_old_keys"] == "0"
    assert {bytes(d["sealed_secret"])[:1] async for d in config_db.profiles.find()} == {b"\x03"}
    async with build_app(with_keys(config_settings, new)):
        for tenant_id, secret in ((legacy, "legacy-secret"), (lying, "lying-secret")):
            assert (await secret_of(nc, names, tenant_id))["result"]["client_secret"] == secret
