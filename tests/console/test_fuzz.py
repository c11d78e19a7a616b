"""A schemathesis run driven by the console's own OpenAPI document: no 5xx, and every answer
matches the document (status codes, content types, schemas, Allow headers, auth enforcement)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from console_helpers import CLOUD, unique
from entrasync_devtools.stack import ConsoleAccess

MAX_EXAMPLES = 25
# The document cannot express every rule the services apply (a GUID client id, a secret *or* a
# certificate, no control characters), so schema-valid input may still be refused with a 422.
EXCLUDED = "positive_data_acceptance"


def test_fuzzing_the_api_from_its_openapi_document_finds_no_server_error(
    api: httpx.Client, access: ConsoleAccess, tmp_path: Path
) -> None:
    document = api.get("/api/v1/openapi.json").json()
    schema = tmp_path / "openapi.json"
    schema.write_text(json.dumps(document))
    victim = victims(api)
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        "[parameters]\n"
        f'"path.tenant_id" = "{victim["tenant_id"]}"\n'
        f'"path.profile_id" = "{victim["profile_id"]}"\n'
    )
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file", str(config),
        "run", str(schema),
        "--url", access.url,
        "--header", f"Authorization: Bearer {access.api_token}",
        "--checks", "all",
        "--exclude-checks", EXCLUDED,
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", "20251127",
        "--workers", "1",
        "--report", "junit",
        "--report-dir", str(tmp_path / "report"),
        "--no-color",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert "Tested: 20" in output or "passed" in output
    assert (tmp_path / "report").exists()


def victims(api: httpx.Client) -> dict[str, Any]:
    """A profile and a disabled tenant the fuzzer may change or delete at will."""
    profile = api.post(
        "/api/v1/credential-profiles",
        json={
            "name": unique("fuzz victim"),
            "client_id": "12345678-1234-4234-8234-123456789abc",
            "client_secret": "fuzz",
        },
    ).json()
    tenant = api.post(
        "/api/v1/tenants",
        json={
            "tenant": f"fuzz{unique('x')[-8:]}.example.com",
            "cloud": CLOUD,
            "profile_id": profile["id"],
            "enabled": False,
        },
    ).json()
    return {"profile_id": profile["id"], "tenant_id": tenant["id"]}
