"""`entrasync-ctl`: the operators' CLI over NATS (the services' request-reply APIs).

Connection: `--nats-url` (or ENTRASYNC_NATS_URL / NATS_URL) and `--prefix` (or ENTRASYNC_PREFIX).
Tenants and profiles may be named by id or by name. `--json` prints machine-readable output.
Exit codes: 0 done, 1 the thing asked for failed (e.g. a failed connection test or run),
2 refused (the service's error is printed), 3 timeout.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import nats
import typer
from entrasync_shared.natsutil import ApiCallError
from entrasync_shared.settings import ServiceSettings
from entrasync_shared.subjects import Names
from pydantic import BaseModel, ValidationError
from rich.console import Console

from entrasync_console.adapters.nats import NatsServices

T = TypeVar("T")
CLI_HELP = __doc__
out = Console()
err = Console(stderr=True)


class Context:
    """Options shared by every command."""

    def __init__(self, nats_url: str, prefix: str, timeout: float, as_json: bool) -> None:
        self.nats_url, self.names = nats_url, Names(prefix)
        self.timeout, self.as_json = timeout, as_json

    def run(self, work: Callable[[NatsServices, Any], Awaitable[T]]) -> T:
        """Connect, run `work(services, nc)`, and turn service refusals into exit code 2."""

        async def main() -> T:
            nc = await nats.connect(
                self.nats_url,
                name="entrasync-ctl",
                connect_timeout=5,
                allow_reconnect=False,
                max_reconnect_attempts=1,
                error_cb=_quiet,
            )
            try:
                services = NatsServices(nc, self.names, self.timeout, self.timeout)
                return await work(services, nc)
            finally:
                await nc.drain()

        try:
            return asyncio.run(main())
        except ApiCallError as error:
            where = f" ({error.error.field})" if error.error.field else ""
            err.print(f"[red]error[/red] {error.error.code}{where}: {error.error.message}")
            raise typer.Exit(3 if error.error.code == "timeout" else 2) from None
        except ValidationError as error:
            first = error.errors(include_url=False, include_input=False)[0]
            field = ".".join(str(p) for p in first["loc"])
            message = first["msg"].removeprefix("Value error, ")
            err.print(f"[red]invalid[/red] {field}: {message}")
            raise typer.Exit(2) from None
        except TimeoutError as error:
            err.print(f"[red]timeout[/red] {error}")
            raise typer.Exit(3) from None
        except (OSError, nats.errors.Error) as error:
            err.print(f"[red]cannot reach NATS at {self.nats_url}[/red]: {error!r}")
            raise typer.Exit(2) from None

    def emit(self, value: Any, render: Callable[[Any], Any]) -> None:
        if self.as_json:
            print(json.dumps(plain(value), indent=2, default=str))
        else:
            out.print(render(value))


async def _quiet(error: Exception) -> None:
    """nats-py prints each failed attempt with a traceback; the CLI reports the outcome once."""


def plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


app = typer.Typer(help=CLI_HELP, no_args_is_help=True, rich_markup_mode=None)
profiles_app = typer.Typer(
    help="Credential profiles (secrets are write-only)", no_args_is_help=True
)
tenants_app = typer.Typer(help="Tenant sync policies", no_args_is_help=True)
sync_app = typer.Typer(help="Run syncs", no_args_is_help=True)
events_app = typer.Typer(help="Public change events", no_args_is_help=True)
app.add_typer(profiles_app, name="profiles")
app.add_typer(tenants_app, name="tenants")
app.add_typer(sync_app, name="sync")
app.add_typer(events_app, name="events")


@app.callback()
def options(
    ctx: typer.Context,
    nats_url: Annotated[str | None, typer.Option(help="NATS server (default from env)")] = None,
    prefix: Annotated[str | None, typer.Option(help="Subject prefix (default from env)")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each answer")] = 30.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables")] = False,
) -> None:
    env = ServiceSettings()
    ctx.obj = Context(
        nats_url or env.nats_url, env.prefix if prefix is None else prefix, timeout, as_json
    )
