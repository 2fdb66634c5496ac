"""Keep ID numbers and phones that veterans type out of the logs: `install_log_redaction()` masks
them in every log record of the process (the Rasa server, the action server). The stored
conversation is masked by vetbot.tracker_store."""
from __future__ import annotations

import logging
from urllib.parse import unquote

from booking.pii import redact


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked == message:
            return True
        # Mask inside the arguments where that masks the message: a formatter that reads the
        # arguments itself (uvicorn's access log: client, method, path …) keeps working.
        if isinstance(record.args, tuple):
            original = record.args
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in original)
            if record.getMessage() == masked:
                return True
            record.args = original
        record.msg, record.args = masked, None
        return True


class RedactingUrlFilter(RedactingFilter):
    """For access logs: the request path is decoded first, so a number after a percent-escape
    (证 is %E8%AF%81, whose last digit would join the number) is still seen and masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(unquote(a) if isinstance(a, str) and "%" in a else a for a in record.args)
        return super().filter(record)


_FILTER = RedactingFilter()


def install_log_redaction() -> None:
    """On every handler of the root logger (a filter on a logger would miss its children)."""
    logging.getLogger().addFilter(_FILTER)
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
