"""Keeps visitor credentials out of logs.

The SDK puts the transaction token in the WebSocket URL, and ASGI servers log
URLs with their query strings (uvicorn's access log does). Attach
``RedactVisitorTokens`` to the handlers that write access logs. No Django
import here: logging is configured before the apps are ready.
"""

from __future__ import annotations

import logging
import re

_TOKEN = re.compile(r"((?:transactionToken|token|access_token|refresh_token|authorization_code)=)[^&\s\"']+")


def redact(text: str) -> str:
    return _TOKEN.sub(r"\1[redacted]", text)


class RedactVisitorTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True
