"""`entrasync-ctl`: the operators' CLI over NATS (the services' request-reply APIs).

Connection: `--nats-url` (or ENTRASYNC_NATS_URL / NATS_URL) and `--prefix` (or ENTRASYNC_PREFIX).
Tenants may be named by id, name, domain or directory GUID; profiles by id or name. Tables fit
80 columns (`--wide` shows every column; ids are never cut); `-o json|yaml|csv` (or `--json`)
prints machine-readable output.
Exit codes: 0 done, 1 the thing asked for failed (e.g. a failed connection test or run),
2 refused (the service's error is printed), 3 timeout.
"""

from __future__ import annotations

import asyncio
import csv
import enum
import io
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import nats
import typer
import yaml  # type: ignore[import-untyped]  # PyYAML's stubs (types-PyYAML) are not a dependency
from entrasync_shared.kit.api import first_error
from entrasync_shared.natsutil import ApiCallError, connect
from entrasync_shared.settings import ServiceSettings
from entrasync_shared.subjects import Names, ObjectType
from pydantic import BaseModel, ValidationError
from rich.console import Console

from entrasync_console.adapters.nats import NatsServices
from entrasync_console.core.object_types import TYPES_HELP, parse_types
from entrasync_console.ports import Services

T = TypeVar("T")
CLI_HELP = __doc__
out = Console()
err = Console(stderr=True)


class Context:
    """Options shared by every command."""

    def __init__(
        self, nats_url: str, prefix: str, timeout: float, output: Output, wide: bool = False
    ) -> None:
        self.nats_url, self.names = nats_url, Names(prefix)
        self.timeout, self.output, self.wide = timeout, output, wide

    @property
    def as_json(self) -> bool:
        return self.output is Output.json

    def run(self, work: Callable[[Services, Any], Awaitable[T]]) -> T:
        """Connect, run `work(services, nc)`, and turn service refusals into exit code 2."""

        async def main() -> T:
            nc = await connect(
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
            field, message = first_error(error)
            err.print(f"[red]invalid[/red] {field or ''}: {message}")
            raise typer.Exit(2) from None
        except TimeoutError as error:
            err.print(f"[red]timeout[/red] {error}")
            raise typer.Exit(3) from None
        except (OSError, nats.errors.Error) as error:
            err.print(f"[red]cannot reach NATS at {self.nats_url}[/red]: {error!r}")
            raise typer.Exit(2) from None

    def emit(self, value: Any, render: Callable[[Any, bool], Any]) -> None:
        """Print `value` as a table (`render(value, wide)`) or in the chosen machine format."""
        if self.output is Output.table:
            out.print(render(value, self.wide))
        else:
            sys.stdout.write(formatted(plain(value), self.output))
            sys.stdout.flush()


async def _quiet(error: Exception) -> None:
    """nats-py prints each failed attempt with a traceback; the CLI reports the outcome once."""


class Output(enum.StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"
    csv = "csv"


def formatted(value: Any, output: Output) -> str:
    """JSON, YAML or CSV text of plain data (CSV: one row per item, nested values as JSON)."""
    if output is Output.json:
        return json.dumps(value, indent=2, default=str) + "\n"
    if output is Output.yaml:
        return yaml.safe_dump(json.loads(json.dumps(value, default=str)), sort_keys=False)
    items = value.get("items", [value]) if isinstance(value, dict) else value
    items = items if isinstance(items, list) else [items]
    rows = [i if isinstance(i, dict) else {"value": i} for i in items]
    fields = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    return json.dumps(value, default=str) if isinstance(value, dict | list) else value


TypesOption = Annotated[str | None, typer.Option("--types", help=TYPES_HELP)]


def chosen_types(text: str | None) -> tuple[ObjectType, ...] | None:
    """The types a `--types` names, None without it; refused before any connection (exit 2)
    when it names an unknown type or none."""
    if text is None:
        return None
    try:
        return parse_types(text)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="'--types'") from None


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
    output: Annotated[
        Output, typer.Option("--output", "-o", help="table, or json/yaml/csv for scripts")
    ] = Output.table,
    as_json: Annotated[bool, typer.Option("--json", help="Same as -o json")] = False,
    wide: Annotated[bool, typer.Option("--wide", help="Tables with every column")] = False,
) -> None:
    env = ServiceSettings()
    ctx.obj = Context(
        nats_url or env.nats_url,
        env.prefix if prefix is None else prefix,
        timeout,
        Output.json if as_json else output,
        wide,
    )
