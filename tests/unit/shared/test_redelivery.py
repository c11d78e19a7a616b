"""The one decision every durable consumer takes when handling a message raised: an outage is
retried without limit, anything else a few times, then the message is parked."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import nats.errors
import nats.js.errors
import pytest
from bson.errors import InvalidDocument
from entrasync_config.adapters import mongo_outages as config_outages
from entrasync_history.adapters import mongo_outages as history_outages
from entrasync_shared.deadletter import (
    Outage,
    after_failure,
    is_transient,
    one_line,
    settle_failure,
)
from pymongo.errors import (
    AutoReconnect,
    DuplicateKeyError,
    OperationFailure,
    ServerSelectionTimeoutError,
)

LIMIT = 5


class Unavailable(Exception):
    """A service's own word for an outage."""


def labelled(label: str) -> OperationFailure:
    return OperationFailure("write conflict", 112, {"errorLabels": [label]})


def wrapped(cause: BaseException) -> RuntimeError:
    try:
        raise RuntimeError("publishing failed") from cause
    except RuntimeError as error:
        return error


# What the MongoDB services (config, history) add: shared/ knows no database.
MONGO_OUTAGES = [
    ServerSelectionTimeoutError("no servers"),
    AutoReconnect("connection reset"),
    labelled("TransientTransactionError"),
    labelled("RetryableWriteError"),
    wrapped(AutoReconnect("reset")),
]
OUTAGES = [
    nats.errors.TimeoutError(),
    nats.errors.NoRespondersError(),
    nats.errors.ConnectionClosedError(),
    nats.js.errors.ServiceUnavailableError(),
    TimeoutError(),
    ConnectionRefusedError(),
    wrapped(nats.errors.TimeoutError()),
    ExceptionGroup("task group", [TimeoutError(), nats.errors.NoServersError()]),
]
POISON = [
    InvalidDocument("Key names must not contain the NULL byte"),
    OverflowError("MongoDB can only handle up to 8-byte ints"),
    DuplicateKeyError("dup"),
    OperationFailure("Document exceeds maximum nesting depth of 180", 15),
    labelled("SomeOtherLabel"),
    KeyError("attributes"),
    ValueError("bug"),
    ExceptionGroup("task group", [TimeoutError(), ValueError("bug")]),
]


@pytest.mark.parametrize("error", OUTAGES, ids=lambda e: type(e).__name__)
def test_an_outage_is_retried_however_often_it_was_delivered(error: Exception) -> None:
    assert is_transient(error)
    assert after_failure(error, 10_000, LIMIT) == "retry"


SERVICES = [config_outages.MONGO_OUTAGES, history_outages.MONGO_OUTAGES]


@pytest.mark.parametrize("service", SERVICES, ids=["config", "history"])
@pytest.mark.parametrize("error", MONGO_OUTAGES, ids=lambda e: type(e).__name__)
def test_a_mongodb_service_retries_its_database_outages(
    error: Exception, service: tuple[Outage, ...]
) -> None:
    assert is_transient(error, also=service)
    assert after_failure(error, 10_000, LIMIT, also=service) == "retry"
    group = ExceptionGroup("task group", [TimeoutError(), error])
    assert is_transient(group, also=service)


@pytest.mark.parametrize("service", [(), *SERVICES], ids=["no-database", "config", "history"])
@pytest.mark.parametrize("error", POISON, ids=lambda e: type(e).__name__)
def test_any_other_error_is_retried_until_the_limit_then_parked(
    error: Exception, service: tuple[Outage, ...]
) -> None:
    assert not is_transient(error, also=service)
    assert [after_failure(error, n, LIMIT, also=service) for n in range(1, 7)] == [
        *["retry"] * (LIMIT - 1),
        "park",
        "park",
    ]


def test_a_service_names_its_own_outages() -> None:
    assert after_failure(Unavailable(), 99, LIMIT) == "park"
    assert after_failure(Unavailable(), 99, LIMIT, also=(Unavailable,)) == "retry"


def test_an_error_raised_while_handling_an_outage_is_not_an_outage() -> None:
    try:
        try:
            raise TimeoutError
        except TimeoutError:
            raise KeyError("bug") from None
    except KeyError as error:
        assert not is_transient(error)


class Message:
    """Stands in for FastStream's NatsMessage: records what was decided."""

    def __init__(self, deliveries: int) -> None:
        self.raw_message = SimpleNamespace(
            subject="p.entrasync.sync.observed.t.user",
            data=b"{}",
            metadata=SimpleNamespace(num_delivered=deliveries),
        )
        self.decision: tuple[str, float | None] | None = None

    async def ack(self) -> None:
        self.decision = ("ack", None)

    async def nack(self, delay: float | None = None) -> None:
        self.decision = ("nack", delay)


class Letters:
    def __init__(self, fail: bool = False) -> None:
        self.parked: list[tuple[bytes, str, str, str]] = []
        self.fail = fail

    async def park(self, payload: bytes, subject: str, reason: str, msg_id: str) -> None:
        if self.fail:
            raise nats.errors.TimeoutError
        self.parked.append((payload, subject, reason, msg_id))


async def settle(
    msg: Message, error: Exception, letters: Letters, also: tuple[Outage, ...] = ()
) -> str:
    return await settle_failure(
        msg,  # type: ignore[arg-type]
        error,
        letters,
        limit=LIMIT,
        delay=2.0,
        msg_id="history:7",
        also=also,
    )


async def test_a_failing_message_is_nacked_with_one_line_and_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    msg, letters = Message(deliveries=1), Letters()

    assert await settle(msg, ValueError("bug"), letters) == "retry"

    assert msg.decision == ("nack", 2.0) and not letters.parked
    assert [r.exc_info for r in caplog.records] == [None]
    assert "delivery 1/5" in caplog.text


async def test_at_the_limit_the_message_is_parked_with_its_reason_then_acked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    msg, letters = Message(deliveries=LIMIT), Letters()
    caplog.set_level(logging.INFO)

    verdict = await settle(msg, InvalidDocument("Key names must not\ncontain NUL"), letters)

    assert verdict == "park" and msg.decision == ("ack", None)
    [(payload, subject, reason, msg_id)] = letters.parked
    assert (payload, subject, msg_id) == (b"{}", "p.entrasync.sync.observed.t.user", "history:7")
    assert reason == "failed 5 deliveries: InvalidDocument: Key names must not\\ncontain NUL"
    assert sum(r.exc_info is not None for r in caplog.records) == 1  # one traceback, at the end


async def test_when_parking_fails_the_message_is_nacked_for_a_later_try() -> None:
    msg = Message(deliveries=LIMIT)

    assert await settle(msg, ValueError("bug"), Letters(fail=True)) == "retry"

    assert msg.decision == ("nack", 2.0)


async def test_an_outage_is_never_parked() -> None:
    msg, letters = Message(deliveries=500), Letters()

    outage = ServerSelectionTimeoutError("down")
    assert await settle(msg, outage, letters, history_outages.MONGO_OUTAGES) == "retry"

    assert msg.decision == ("nack", 2.0) and not letters.parked


def test_a_reason_is_one_line() -> None:
    assert one_line("a\nb\x00c\r") == "a\\nb\\x00c\\r"
    assert one_line("plain text") == "plain text"
