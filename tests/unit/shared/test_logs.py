"""Service logging keeps one record on one line, whatever text the record quotes."""

import io
import logging
from collections.abc import Iterator

import pytest
from entrasync_shared.logs import FORMAT, EscapeControlChars, configure_logging, safe


@pytest.fixture
def written() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(EscapeControlChars())
    logger = logging.getLogger("entrasync.test.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, out
    logger.removeHandler(handler)


def test_a_forged_line_in_an_argument_stays_on_the_record_line(
    written: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = written

    logger.info("config.%s refused: %s (%s)", "tenant.create", "validation", "x\nERROR fake")

    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith("refused: validation (x\\nERROR fake)")


def test_a_traceback_keeps_its_lines(written: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = written
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed for %s", "a\r\nb")

    text = out.getvalue()
    assert "failed for a\\r\\nb\nTraceback (most recent call last):" in text
    assert text.rstrip().endswith("ValueError: boom")


def test_every_control_character_but_tab_is_escaped() -> None:
    assert safe("a\tb") == "a\tb"
    assert safe("\x00\x1b[31m\x7f\x85\u2028\u2029") == "\\x00\\x1b[31m\\x7f\\x85\\u2028\\u2029"
    assert safe("plain – ünïcode ✓") == "plain – ünïcode ✓"


def test_a_record_whose_arguments_do_not_fit_is_left_to_the_formatter() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s %s", ("one",), None)

    assert EscapeControlChars().filter(record) is True
    assert (record.msg, record.args) == ("%s %s", ("one",))


def test_configure_logging_covers_the_handlers_libraries_attach_to_their_own_loggers() -> None:
    import faststream  # noqa: F401, PLC0415 - attaches its own `faststream` handler on import

    configure_logging()

    handlers = [*logging.getLogger().handlers, *logging.getLogger("faststream").handlers]
    assert handlers and all(
        any(isinstance(f, EscapeControlChars) for f in handler.filters) for handler in handlers
    )
