"""Which MongoDB errors are outages: retried without limit instead of parking the message.

`entrasync_shared.deadletter` knows no database (the syncer's image carries no driver), so each
service that uses MongoDB passes these in as `also=MONGO_OUTAGES`.
"""

from __future__ import annotations

from typing import Final

from entrasync_shared.deadletter import Outage
from pymongo.errors import ConnectionFailure, ExecutionTimeout, PyMongoError, WTimeoutError

# MongoDB labels the errors a retry of the whole operation may cure (e.g. a write conflict).
RETRYABLE_LABELS: Final = ("TransientTransactionError", "RetryableWriteError")


def labelled_retryable(error: BaseException) -> bool:
    """A MongoDB error that the server or driver labelled as worth retrying."""
    return isinstance(error, PyMongoError) and any(map(error.has_error_label, RETRYABLE_LABELS))


MONGO_OUTAGES: Final[tuple[Outage, ...]] = (
    # Unreachable, stepping down or slow (ServerSelectionTimeout, AutoReconnect, ...).
    ConnectionFailure,
    ExecutionTimeout,
    WTimeoutError,
    labelled_retryable,
)
