"""Device authorization history read as sentences, one per status (``AUTHORIZATION_SENTENCES``:
authorized, not authorized, record removed)."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from calls.models import AuthorizationStatus, DeviceAuthorizationHistory
from core.sentences import Sentences

REMOVED = "removed"  # a history row with no status: the record was removed

AUTHORIZATION_SENTENCES = Sentences(
    {
        str(AuthorizationStatus.AUTHORIZED.value): gettext_lazy("%(parent)s authorized %(target)s to call"),
        str(AuthorizationStatus.REFUSED.value): gettext_lazy("%(parent)s did not authorize %(target)s"),
        REMOVED: gettext_lazy("The authorization of %(target)s by %(parent)s was removed"),
    },
    fallback=gettext_lazy("%(parent)s, %(target)s: %(kind)s"),
)


def authorization_sentence(row: DeviceAuthorizationHistory) -> str:
    """The history row as a sentence, with how it was learnt (``source``). Reads ``row.parent``,
    ``row.device`` and ``row.group`` (select them with the rows). Never raises."""
    if row.device_id:
        target = _("the phone %(device)s") % {"device": row.device.device_name}
    elif row.group_id:
        target = _("the device group %(group)s") % {"group": row.group.name}
    else:
        target = "—"
    parent = row.parent.nickname or _("a parent")
    kind = REMOVED if row.status is None else str(row.status)
    sentence = AUTHORIZATION_SENTENCES.render(kind, {"parent": parent, "target": target}, kind_label=kind)
    return _("%(sentence)s (%(source)s)") % {"sentence": sentence, "source": row.get_source_display()}
