"""Settings of the console (environment variables, see each field's alias).

Accounts and tokens are secrets with no defaults: without at least one admin account and a
session secret the console refuses to start. Generate the values with
``entrasync-console hash-password``, ``entrasync-console new-token`` and
``entrasync-console new-secret``.
"""

from __future__ import annotations

import json
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

from entrasync_shared.clouds import NATIONAL_CLOUDS, CustomCloud
from entrasync_shared.settings import ServiceSettings
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

ADMINS_VARIABLE = "ENTRASYNC_CONSOLE_ADMINS"
ADMINS_FILE_VARIABLE = "ENTRASYNC_CONSOLE_ADMINS_FILE"
TOKENS_VARIABLE = "ENTRASYNC_CONSOLE_API_TOKENS"
TOKENS_FILE_VARIABLE = "ENTRASYNC_CONSOLE_API_TOKENS_FILE"
SECRET_VARIABLE = "ENTRASYNC_CONSOLE_SESSION_SECRET"
MIN_SECRET = 32
IPNetwork = IPv4Network | IPv6Network


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class ConsoleSettings(ServiceSettings):
    """The console's HTTP server, its accounts, sessions and how long it waits for services."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", validate_by_name=True)

    host: str = Field("0.0.0.0", validation_alias=_env("ENTRASYNC_CONSOLE_HOST"))
    port: int = Field(8000, ge=0, le=65535, validation_alias=_env("ENTRASYNC_CONSOLE_PORT"))
    admins: SecretStr | None = Field(
        default=None,
        validation_alias=_env(ADMINS_VARIABLE),
        description='JSON object of admin accounts: {"user": "<argon2 hash>"}',
    )
    admins_file: Path | None = Field(
        default=None,
        validation_alias=_env(ADMINS_FILE_VARIABLE),
        description="A file (e.g. a mounted Secret) holding the same JSON object",
    )
    api_tokens: SecretStr | None = Field(
        default=None,
        validation_alias=_env(TOKENS_VARIABLE),
        description='JSON object of API tokens for scripts: {"name": "sha256:<hex digest>"}',
    )
    api_tokens_file: Path | None = Field(default=None, validation_alias=_env(TOKENS_FILE_VARIABLE))
    session_secret: SecretStr = Field(
        validation_alias=_env(SECRET_VARIABLE),
        description="Key signing session cookies; the same on every replica (32+ characters)",
    )
    session_hours: float = Field(
        8.0, gt=0, le=24 * 30, validation_alias=_env("ENTRASYNC_CONSOLE_SESSION_HOURS")
    )
    cookie_secure: bool = Field(
        True,
        validation_alias=_env("ENTRASYNC_CONSOLE_COOKIE_SECURE"),
        description="Send cookies only over HTTPS (browsers exempt http://localhost)",
    )
    login_max_failures: int = Field(
        5,
        ge=1,
        validation_alias=_env("ENTRASYNC_CONSOLE_LOGIN_MAX_FAILURES"),
        description="Failed logins of one user from one address before each try must wait",
    )
    login_delay_seconds: float = Field(
        1.0,
        gt=0,
        validation_alias=_env("ENTRASYNC_CONSOLE_LOGIN_DELAY_SECONDS"),
        description="The first wait; it doubles with every further failure",
    )
    login_max_delay_seconds: float = Field(
        300.0,
        gt=0,
        validation_alias=_env("ENTRASYNC_CONSOLE_LOGIN_MAX_DELAY_SECONDS"),
        description="The longest wait between two tries",
    )
    login_window_seconds: float = Field(
        300.0,
        gt=0,
        validation_alias=_env("ENTRASYNC_CONSOLE_LOGIN_WINDOW_SECONDS"),
        description="Failures are forgotten this long after the last wait ended",
    )
    trusted_proxies: str = Field(
        "",
        validation_alias=_env("ENTRASYNC_CONSOLE_TRUSTED_PROXIES"),
        description="Comma-separated IPs/CIDRs whose X-Forwarded-For names the client",
    )
    max_body_bytes: int = Field(
        256 * 1024,
        ge=1024,
        le=1024 * 1024,  # more could not travel in one NATS request (1 MiB max_payload)
        validation_alias=_env("ENTRASYNC_CONSOLE_MAX_BODY_BYTES"),
        description="Larger request bodies are refused with 413",
    )
    request_timeout_seconds: float = Field(
        10.0, gt=0, validation_alias=_env("ENTRASYNC_CONSOLE_REQUEST_TIMEOUT_SECONDS")
    )
    test_timeout_seconds: float = Field(
        60.0,
        gt=0,
        le=180,
        validation_alias=_env("ENTRASYNC_CONSOLE_TEST_TIMEOUT_SECONDS"),
        description="How long the console waits for a Test Connection answer",
    )
    tls_cert_file: Path | None = Field(
        default=None, validation_alias=_env("ENTRASYNC_CONSOLE_TLS_CERT_FILE")
    )
    tls_key_file: Path | None = Field(
        default=None, validation_alias=_env("ENTRASYNC_CONSOLE_TLS_KEY_FILE")
    )
    clouds: dict[str, CustomCloud] = Field(
        default_factory=dict,
        validation_alias=_env("ENTRASYNC_CLOUDS"),
        description="The custom clouds config knows (only their names are used here)",
    )

    @field_validator("session_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < MIN_SECRET:
            raise ValueError(f"must be at least {MIN_SECRET} characters")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        proxy_networks(value)
        return value

    @model_validator(mode="after")
    def _one_source_each(self) -> ConsoleSettings:
        if self.admins is not None and self.admins_file is not None:
            raise ValueError(f"set {ADMINS_VARIABLE} or {ADMINS_FILE_VARIABLE}, not both")
        if self.admins is None and self.admins_file is None:
            raise ValueError(
                f"no admin account: set {ADMINS_VARIABLE} or {ADMINS_FILE_VARIABLE} "
                "(hash a password with `entrasync-console hash-password`)"
            )
        if self.api_tokens is not None and self.api_tokens_file is not None:
            raise ValueError(f"set {TOKENS_VARIABLE} or {TOKENS_FILE_VARIABLE}, not both")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("set both ENTRASYNC_CONSOLE_TLS_CERT_FILE and _KEY_FILE, or neither")
        return self

    def admin_hashes(self) -> dict[str, str]:
        """User name → argon2 hash; `ValueError` naming the source when unreadable."""
        return _json_map(self.admins, self.admins_file, ADMINS_VARIABLE)

    def token_hashes(self) -> dict[str, str]:
        """Token name → `sha256:<hex>` of the token; empty when none are configured."""
        if self.api_tokens is None and self.api_tokens_file is None:
            return {}
        return _json_map(self.api_tokens, self.api_tokens_file, TOKENS_VARIABLE)

    def cloud_names(self) -> list[str]:
        return [*NATIONAL_CLOUDS, *sorted(self.clouds)]

    def proxies(self) -> tuple[IPNetwork, ...]:
        return proxy_networks(self.trusted_proxies)


def proxy_networks(text: str) -> tuple[IPNetwork, ...]:
    """`10.0.0.0/8, 192.168.1.5` as networks; `ValueError` naming the entry that is none."""
    networks = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        try:
            networks.append(ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or CIDR network") from None
    return tuple(networks)


def _json_map(text: SecretStr | None, path: Path | None, variable: str) -> dict[str, str]:
    source = str(path) if path is not None else variable
    try:
        raw = path.read_text() if path is not None else (text.get_secret_value() if text else "")
    except OSError as err:
        raise ValueError(f"{source}: cannot read the file: {err.strerror}") from None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise ValueError(f"{source}: not JSON (expected an object of name to hash)") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str) and v for k, v in value.items()
    ):
        raise ValueError(f"{source}: expected a JSON object of non-empty name to hash strings")
    if not value:
        raise ValueError(f"{source}: holds no entry")
    return dict(value)
