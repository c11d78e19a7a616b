"""`run_service()`: how every entrasync service process starts, once.

Settings come from the environment (pydantic-settings); a bad one stops the process with exit
code 2 and one line naming each problem (never its value: it may be a secret). Logging is set
up once (`logs.configure_logging`: one record per line, control characters escaped; JSON lines
naming the service with `ENTRASYNC_LOG_FORMAT=json`), then the level from the settings; traces
as the `OTEL_*` variables say (`kit.tracing`: off by default).
FastStream's app handles SIGINT/SIGTERM: it stops its subscribers, runs the shutdown hooks and
exits 0.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol, TypeVar

from faststream import FastStream
from pydantic import ValidationError

from entrasync_shared.kit.tracing import configure_tracing
from entrasync_shared.logs import configure_logging


class HasLogLevel(Protocol):
    # Read-only, so that frozen settings (every service's) match.
    @property
    def log_level(self) -> str: ...


SettingsT = TypeVar("SettingsT", bound=HasLogLevel)


def settings_problems(err: ValidationError) -> str:
    """Each invalid setting with its problem, without the offending value."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg'].removeprefix('Value error, ')}"
        for e in err.errors(include_url=False, include_input=False)
    )


def load_settings(name: str, settings_type: Callable[[], SettingsT]) -> SettingsT:
    """The service's settings, or `SystemExit(2)` with the problems logged."""
    try:
        return settings_type()
    except ValidationError as err:
        logging.getLogger(f"entrasync.{name}").error(
            "entrasync-%s cannot start: %s", name, settings_problems(err)
        )
        raise SystemExit(2) from None


def run_service(
    name: str,
    settings_type: Callable[[], SettingsT],
    build_app: Callable[[SettingsT], FastStream],
) -> None:
    """Start service `name`: logging, settings (exit 2 when invalid), then its app until a
    signal stops it. `build_app` may refuse a setting only it can judge (an unusable key) by
    raising `ValueError`: exit 2 too, with its message."""
    configure_logging(logging.INFO, service=f"entrasync-{name}")
    configure_tracing(name)  # before `build_app`: its broker takes the tracing middlewares
    settings = load_settings(name, settings_type)
    logging.getLogger().setLevel(settings.log_level.upper())
    try:
        app = build_app(settings)
    except ValueError as err:
        logging.getLogger(f"entrasync.{name}").error("entrasync-%s cannot start: %s", name, err)
        raise SystemExit(2) from None
    asyncio.run(app.run())
