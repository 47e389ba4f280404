"""Logging with the interaction in every line: ``interaction_id`` and ``thread_id`` come from
context variables set by the handler, so nothing has to pass them to each log call."""

import contextlib
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

import orjson

interaction_var: ContextVar[str | None] = ContextVar("interaction_id", default=None)
thread_var: ContextVar[str | None] = ContextVar("thread_id", default=None)


@contextlib.contextmanager
def interaction_context(interaction_id: object, thread_id: str | None) -> Iterator[None]:
    tokens = (interaction_var.set(str(interaction_id)), thread_var.set(thread_id))
    try:
        yield
    finally:
        interaction_var.reset(tokens[0])
        thread_var.reset(tokens[1])


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.interaction_id = interaction_var.get()
        record.thread_id = thread_var.get()
        return True


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        iid = getattr(record, "interaction_id", None)
        if iid:
            line += f" [interaction_id={iid} thread_id={getattr(record, 'thread_id', None)}]"
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "interaction_id": getattr(record, "interaction_id", None),
            "thread_id": getattr(record, "thread_id", None),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def configure_logging(fmt: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aio_pika").setLevel(max(root.level, logging.WARNING))
    logging.getLogger("aiormq").setLevel(max(root.level, logging.WARNING))
