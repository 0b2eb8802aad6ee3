"""The portal's logs: secrets kept out (issue 9 §8) and structured lines (issue 11 §3).

Structured: every line is one event with its fields (``structlog``): JSON in production
(``LOG_FORMAT=json``, one object per line with ``timestamp``, ``level``, ``logger``, ``event`` and
``request_id``), aligned text on a developer's console. django-structlog binds a ``request_id`` to
each request (answered as ``X-Request-ID``) and carries it into the Celery tasks the request sends,
so a parent's bind, its event and its webhook delivery share one id. Standard-library records (Django,
Celery, libraries) go through the same formatter.

Secrets: ``RedactSecretsFilter``, wired in ``LOGGING`` (portal.settings.base), and
``redact_event_dict`` for structlog's events.

Request lines and paths carry credentials: a vendor's ``secret`` (``GET /cgi-bin/token?appid=&secret=``),
``access_token`` values (the device API and ``/wxa/``), share-link tokens (``?token=`` and
``/api/v1/share-links/<token>``) and wx.login ``code`` / ``js_code`` values. Django's
``Not Found: <path>`` warnings (``django.request``), runserver's access log (``django.server``)
and a library's messages (an HTTP client's URL in an exception) would repeat them. The filter
replaces each value with ``[redacted]`` in the record's message, its arguments and its traceback
text, and never drops a record.
"""

import logging
import re

import structlog

REDACTED = "[redacted]"

# Query parameters whose values are credentials.
SECRET_PARAMETERS = ("secret", "access_token", "token", "code", "js_code")

_QUERY_VALUE = re.compile(
    r"(?P<key>[?&;](?:%s)=)[^&;#\s\"'<>]*" % "|".join(SECRET_PARAMETERS),
    re.IGNORECASE,
)
# /api/v1/share-links/<token> and /api/v1/share-links/<token>/bind
_SHARE_LINK_TOKEN = re.compile(r"(?P<prefix>/api/v1/share-links/)[^/?#\s\"'<>]+")


def redact(text: str) -> str:
    """``text`` with every secret query value and share-link token replaced by ``[redacted]``."""
    if "=" not in text and "share-links/" not in text:
        return text
    text = _QUERY_VALUE.sub(lambda m: m["key"] + REDACTED, text)
    return _SHARE_LINK_TOKEN.sub(lambda m: m["prefix"] + REDACTED, text)


def _redact_value(value):
    return redact(value) if isinstance(value, str) else value


class RedactSecretsFilter(logging.Filter):
    """Redacts credentials in a record (message, arguments, traceback); keeps every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict) and hasattr(record, "_logger"):
            return True  # a structlog event: redact_event_dict has done it, and its msg must stay a dict
        if isinstance(record.args, dict):
            record.args = {key: _redact_value(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_redact_value(value) for value in record.args)
        # A secret in the format itself, split between the format and an argument, or inside an
        # argument that is not a string (a URL object, an exception): the message as a whole.
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the format: logging reports it
            if isinstance(record.msg, str):
                record.msg = redact(record.msg)
        else:
            redacted = redact(message)
            if redacted != message:
                record.msg, record.args = redacted, ()
        if record.exc_info and not record.exc_text:
            # Formatters use exc_text when it is set: format the traceback once, redacted.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_KEPT_KEYS = ("exc_info", "_record", "_from_structlog")  # structlog's own, formatted later


def redact_event_dict(logger, method_name: str, event_dict: dict) -> dict:
    """structlog processor: every string value of the event redacted; numbers and None kept.

    Any other value (an exception, a URL object) is logged as its redacted text, so a credential
    cannot pass through its ``repr``.
    """
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = redact(value)
        elif key not in _KEPT_KEYS and not (value is None or isinstance(value, (bool, int, float))):
            event_dict[key] = redact(str(value))
    return event_dict


def redact_exception(logger, method_name: str, event_dict: dict) -> dict:
    """structlog processor: the formatted traceback (``exception``) redacted; nothing else is touched."""
    if isinstance(event_dict.get("exception"), str):
        event_dict["exception"] = redact(event_dict["exception"])
    return event_dict


# Applied to structlog's events and (as the formatter's pre-chain) to standard-library records alike.
SHARED_PROCESSORS = (
    structlog.contextvars.merge_contextvars,  # request_id (and task_id in a worker)
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.stdlib.ExtraAdder(),
)


def structlog_configure() -> None:
    """Route structlog through the standard library's handlers (``LOGGING``), level-filtered first."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,  # a DEBUG event costs nothing when DEBUG is off
            *SHARED_PROCESSORS,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            redact_event_dict,  # before any handler (pytest's caplog too) sees the event
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def formatters() -> dict:
    """``LOGGING["formatters"]`` entries: ``json`` (one object per line) and ``console`` (text)."""

    def formatter(renderer) -> dict:
        return {
            "()": structlog.stdlib.ProcessorFormatter,
            "foreign_pre_chain": [*SHARED_PROCESSORS, redact_event_dict],
            "processors": [
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact_exception,  # the traceback's text (the rest was redacted before the handler)
                renderer,
            ],
        }

    return {
        "json": formatter(structlog.processors.JSONRenderer(ensure_ascii=False)),
        "console": formatter(structlog.dev.ConsoleRenderer(colors=False)),
    }


def add_request_id_header(response, logger, **kwargs) -> None:
    """django-structlog receiver: the request's id answered as ``X-Request-ID``, to quote in support."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if request_id:
        response["X-Request-ID"] = request_id
