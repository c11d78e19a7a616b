"""Service logging: one record is one line, whatever text a caller managed to put into it.

Log messages quote untrusted text (a refused field name, an error from Graph, a tenant's
domain). A line break in such text would let its author write a line that looks like a log
record of its own (`ERROR ...`), so every service installs `escape_control_chars` on its
handlers: line breaks and other control characters in the rendered message are written as
escapes (`\\n`, `\\x1b`). Tracebacks are not touched: they come from `exc_info` and are
appended by the formatter after the message.

`ENTRASYNC_LOG_FORMAT=json` (or `configure_logging(json_lines=True)`) writes one JSON object per
line instead, for log pipelines: `time`, `level`, `logger`, `message`, `service`, and
`tenant_id`, `run_id`, `trace_id` where the code handling the record has set them with
`log_context(...)` (contextvars: they follow a task and its children). Untrusted text is
escaped by the JSON encoder itself; a traceback goes in `exc`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "FORMAT",
    "CONTEXT_FIELDS",
    "EscapeControlChars",
    "JsonLines",
    "configure_logging",
    "log_context",
    "safe",
]

CONTEXT_FIELDS = ("tenant_id", "run_id", "trace_id")
"""Fields a record carries when the code logging it has set them with `log_context`."""

_context: ContextVar[dict[str, str]] = ContextVar("entrasync_log_context", default={})  # noqa: B039 - never mutated: replaced
_service: dict[str, str] = {}

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# C0 and C1 controls except tab, DEL, and the Unicode line/paragraph separators.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def safe(text: str) -> str:
    """`text` with line breaks and control characters escaped, so it stays on one line."""
    return _UNSAFE.sub(_escape, text)


class EscapeControlChars(logging.Filter):
    """A handler filter that renders each record's message once and escapes it (see `safe`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is the formatter's to report
            return True
        if _UNSAFE.search(message):
            record.msg, record.args = safe(message), None
        return True


@contextlib.contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Within the block (and the tasks it starts), records carry `fields` (see
    `CONTEXT_FIELDS`); None removes a field."""
    unknown = set(fields) - set(CONTEXT_FIELDS)
    if unknown:
        raise ValueError(f"unknown log context fields: {sorted(unknown)}")
    merged = {**_context.get(), **{k: v for k, v in fields.items() if v is not None}}
    for key in (k for k, v in fields.items() if v is None):
        merged.pop(key, None)
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> dict[str, str]:
    """The fields `log_context` has set here."""
    return dict(_context.get())


class JsonLines(logging.Formatter):
    """One JSON object per record: time, level, logger, message, service, context, exc."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_service,
            **_context.get(),
        }
        if record.exc_info:
            document["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            document["exc"] = record.exc_text
        return json.dumps(document, ensure_ascii=False, default=str)


def _wants_json(json_lines: bool | None) -> bool:
    if json_lines is not None:
        return json_lines
    return os.environ.get("ENTRASYNC_LOG_FORMAT", "text").strip().lower() == "json"


def configure_logging(
    level: int | str = logging.INFO,
    fmt: str = FORMAT,
    *,
    service: str | None = None,
    json_lines: bool | None = None,
) -> None:
    """`logging.basicConfig(level, fmt)`, then escape control characters on every handler.

    Call it once at process start, where a service used to call `basicConfig`. Besides the
    root's, the handlers libraries already attached to their own loggers get the filter too
    (FastStream logs through its own `faststream` handler, which does not propagate).
    With `json_lines` (default: `ENTRASYNC_LOG_FORMAT=json`) every handler writes `JsonLines`
    naming `service`.
    """
    logging.basicConfig(level=level, format=fmt)
    if service is not None:
        _service["service"] = service
    as_json = _wants_json(json_lines)
    loggers = [logging.getLogger(), *logging.root.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            if as_json:
                handler.setFormatter(JsonLines())
            if not any(isinstance(f, EscapeControlChars) for f in handler.filters):
                handler.addFilter(EscapeControlChars())
