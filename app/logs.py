"""Logging setup: JSON lines in production, readable text on a terminal; phones masked."""

import json
import logging
import re
import sys
from datetime import UTC, datetime

_PHONE = re.compile(r"\+\d{4,}(\d{4})")
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


def mask_phones(text: str) -> str:
    """Replace E.164 numbers by `+…1234` (the last 4 digits stay for support)."""
    return _PHONE.sub(r"+…\1", text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line with the message, level, logger and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as JSON."""
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask_phones(record.getMessage()),
        }
        entry |= {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Readable lines for a developer's terminal, phones masked."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as text."""
        return mask_phones(super().format(record))


def configure_logging(style: str = "auto", level: int = logging.INFO) -> None:
    """Install one stderr handler; `auto` picks text on a TTY and JSON otherwise."""
    use_json = style == "json" or (style == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # APScheduler logs every one-second tick at INFO; only its problems are worth a line.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
