"""How a NATS connection reports losing its server: one line per reconnect attempt, no traceback.

nats-py's default error callback logs every failed reconnect attempt at ERROR with a full
traceback, which pages an operator for a routine NATS restart. `ReconnectLog` gives a connection
(nats-py's `connect` or FastStream's `NatsBroker`, which pass them on) callbacks that say the
same thing plainly: one WARNING when the connection drops, one WARNING per failed attempt with
its number, one INFO line when it is back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import nats.errors


class ReconnectLog:
    """Callbacks for one connection; `callbacks()` are keyword arguments for `connect`.

    nats-py reports a dropped connection as an error (EOF, reset) before calling
    `disconnected_cb`, and a closing connection through `disconnected_cb` alone, so the drop is
    logged from the error: an orderly close logs nothing.
    """

    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self._attempts = 0
        self._lost = False

    async def on_error(self, error: Exception) -> None:
        if not isinstance(error, _CONNECTION_ERRORS):
            self._log.warning("NATS error: %s", _said(error))
        elif not self._lost:
            self._lost, self._attempts = True, 0
            self._log.warning("NATS connection lost (%s); reconnecting", _said(error))
        else:
            self._attempts += 1
            self._log.warning("NATS reconnect attempt %d failed: %s", self._attempts, _said(error))

    async def on_disconnected(self) -> None:
        if not self._lost:
            self._lost, self._attempts = True, 0

    async def on_reconnected(self) -> None:
        self._log.info("NATS connection back after %d failed attempts", self._attempts)
        self._lost, self._attempts = False, 0

    def callbacks(self) -> dict[str, Callable[..., Awaitable[Any]]]:
        return {
            "error_cb": self.on_error,
            "disconnected_cb": self.on_disconnected,
            "reconnected_cb": self.on_reconnected,
        }


_CONNECTION_ERRORS = (
    OSError,
    TimeoutError,
    nats.errors.UnexpectedEOF,
    nats.errors.StaleConnectionError,
    nats.errors.ConnectionClosedError,
    nats.errors.NoServersError,
)


def _said(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:300]
