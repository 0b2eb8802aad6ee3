"""Serializer fields shared by the APIs."""

from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers and booleans instead of turning them into text."""

    default_error_messages = {"not_a_string": _("Must be a string.")}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean: refuses the 0, 1, "true", "yes" … that ``BooleanField`` would turn into one."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


def _strings(value):
    """Every string in a JSON value, object keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


class JSONObjectField(serializers.DictField):
    """A JSON object kept as it is (in a ``JSONField``): refuses NUL and lone surrogate characters
    anywhere in it, which PostgreSQL's ``jsonb`` cannot hold, as ``CharField`` does."""

    default_error_messages = {
        "null_characters": ProhibitNullCharactersValidator.message,
        "surrogate_characters": ProhibitSurrogateCharactersValidator.message,
    }

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        for text in _strings(value):
            if "\x00" in text:
                self.fail("null_characters")
            surrogate = next((c for c in text if 0xD800 <= ord(c) <= 0xDFFF), None)
            if surrogate is not None:
                self.fail("surrogate_characters", code_point=ord(surrogate))
        return value
