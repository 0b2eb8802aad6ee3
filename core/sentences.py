"""History rows read as sentences: one translatable template per kind of row, and a fallback.

``Sentences`` maps each kind (an audit row's ``action``, a bind event's ``type`` …) to a sentence
with named placeholders (``"%(actor)s removed %(contact)s"``, Python's ``%`` format, translated in
``locale/``). A kind it does not know, or a template whose placeholder the row cannot fill, gives
the fallback sentence: rendering a history never fails.
"""

from collections.abc import Mapping

from django.utils.translation import gettext as _


class _Values(dict):
    """A template's values; a placeholder with no value reads as a dash rather than raising."""

    def __missing__(self, key):
        return "—"


class Sentences:
    """``templates``: kind → lazy translatable sentence; ``fallback``: the sentence of any other kind,
    which gets the same values plus ``kind`` (the kind's label or raw value)."""

    def __init__(self, templates: Mapping[str, str], fallback: str):
        self.templates = dict(templates)
        self.fallback = fallback

    def render(self, kind: str, values: Mapping[str, object], *, kind_label: str = "") -> str:
        """The sentence of ``kind`` filled with ``values`` (text, numbers), or the fallback's."""
        filled = _Values(values, kind=kind_label or kind)
        template = self.templates.get(kind)
        if template is not None:
            try:
                return str(template) % filled
            except (TypeError, ValueError):  # a broken translation: the fallback says the same plainly
                pass
        try:
            return str(self.fallback) % filled
        except (TypeError, ValueError):
            return str(kind_label or kind)


def with_reason(sentence: str, reason: str) -> str:
    """``sentence`` followed by the staff's reason, when there is one: "…,原因:…"."""
    return _("%(sentence)s; reason: %(reason)s") % {"sentence": sentence, "reason": reason} if reason else sentence
