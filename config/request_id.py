"""The current request's id, for log lines (no Django imports: logging is configured
before the apps load)."""

import contextvars
import logging

request_id = contextvars.ContextVar("request_id", default="-")


def current_request_id() -> str:
    return request_id.get()


class RequestIdLogFilter(logging.Filter):
    def filter(self, record):
        record.request_id = request_id.get()
        return True
