"""Secrets out of the logs (issue 9 §8): ``RedactSecretsFilter``, wired in ``LOGGING`` (portal.settings.base).

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
