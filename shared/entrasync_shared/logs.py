"""Service logging: one record is one line, whatever text a caller managed to put into it.

Log messages quote untrusted text (a refused field name, an error from Graph, a tenant's
domain). A line break in such text would let its author write a line that looks like a log
record of its own (`ERROR ...`), so every service installs `escape_control_chars` on its
handlers: line breaks and other control characters in the rendered message are written as
escapes (`\\n`, `\\x1b`). Tracebacks are not touched: they come from `exc_info` and are
appended by the formatter after the message.
"""

from __future__ import annotations

import logging
import re

__all__ = ["FORMAT", "EscapeControlChars", "configure_logging", "safe"]

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


def configure_logging(level: int | str = logging.INFO, fmt: str = FORMAT) -> None:
    """`logging.basicConfig(level, fmt)`, then escape control characters on every handler.

    Call it once at process start, where a service used to call `basicConfig`. Besides the
    root's, the handlers libraries already attached to their own loggers get the filter too
    (FastStream logs through its own `faststream` handler, which does not propagate).
    """
    logging.basicConfig(level=level, format=fmt)
    loggers = [logging.getLogger(), *logging.root.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            if not any(isinstance(f, EscapeControlChars) for f in handler.filters):
                handler.addFilter(EscapeControlChars())
