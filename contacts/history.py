"""Bind events (the plugin's and the portal's bindContact outcomes) read as sentences, one per type
(``BIND_EVENT_SENTENCES``); the parent named as the school names it (``schools.history.contact_name``)."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contacts.models import BindEvent
from core.sentences import Sentences
from schools.history import contact_name

T = BindEvent.Type

BIND_EVENT_SENTENCES = Sentences(
    {
        T.SUCCESS: gettext_lazy("%(parent)s bound %(student)s"),
        T.UNBIND: gettext_lazy("%(parent)s is not bound to %(student)s"),
        T.BINDED: gettext_lazy("%(parent)s was already bound to %(student)s"),
        T.EXPIRE: gettext_lazy("%(parent)s opened an expired share link of %(student)s"),
        T.OVERLOAD: gettext_lazy("%(parent)s could not bind %(student)s: the contact limit is reached"),
        T.INVALID: gettext_lazy("%(parent)s opened an invalid share link"),
        T.AUTH: gettext_lazy("%(parent)s could not bind %(student)s: call permission (scope.voip) not granted"),
        T.CANCEL: gettext_lazy("%(parent)s is no longer bound to %(student)s"),
    },
    fallback=gettext_lazy("%(parent)s, %(student)s: %(kind)s"),
)


def bind_event_sentence(event: BindEvent, *, relation: str = "") -> str:
    """The event as a sentence; ``relation``: the parent's relation to the student, if known (a contact's).
    Reads ``event.student`` (select it with the events). Never raises."""
    student = event.student.name if event.student_id else event.user_id
    parent = contact_name(student, relation) if relation else _("a parent")
    try:
        label = str(T(event.type).label)
    except ValueError:
        label = event.type
    return BIND_EVENT_SENTENCES.render(
        event.type, {"parent": parent, "student": student or _("a student")}, kind_label=label
    )
