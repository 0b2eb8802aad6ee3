"""Field shapes fixed by WeChat (REFERENCE.md §1, §5)."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

SN_MAX_BYTES = 128
DEVICE_NAME_MAX_CHARS = 13
GROUP_NAME_MAX_BYTES = 32

# sn: at most 128 bytes of [0-9A-Za-z_-] (REFERENCE.md §1; WeChat 9800001/9800002).
sn_validator = RegexValidator(
    r"\A[0-9A-Za-z_-]{1,128}\Z",
    _("sn must be 1-128 characters of 0-9, A-Z, a-z, '_' and '-'."),
    code="invalid_sn",
)
# user_id and openid are opaque WeChat strings; this only keeps out whitespace and control bytes.
WECHAT_ID_CHARS = r"[0-9A-Za-z_\-.@=+/]{1,128}"
wechat_id_validator = RegexValidator(
    rf"\A{WECHAT_ID_CHARS}\Z",
    _("Must be 1-128 characters of letters, digits and _-.@=+/."),
    code="invalid_wechat_id",
)


def is_sn(value: str) -> bool:
    """Whether ``value`` is an ``sn`` WeChat would take; lookups check it before querying."""
    return isinstance(value, str) and sn_validator.regex.fullmatch(value) is not None


def is_wechat_id(value: str) -> bool:
    """Whether ``value`` can be a ``user_id``/``openid``; lookups check it before querying."""
    return isinstance(value, str) and re.fullmatch(WECHAT_ID_CHARS, value) is not None


@deconstructible
class MaxUtf8BytesValidator:
    """Rejects strings longer than ``limit`` bytes in UTF-8 (WeChat counts group names in bytes)."""

    def __init__(self, limit: int):
        self.limit = limit

    def __call__(self, value: str):
        if len(value.encode("utf-8")) > self.limit:
            raise ValidationError(
                _("Must be at most %(limit)d bytes in UTF-8 (a Chinese character takes 3)."),
                code="too_many_bytes",
                params={"limit": self.limit},
            )

    def __eq__(self, other):
        return isinstance(other, MaxUtf8BytesValidator) and other.limit == self.limit
