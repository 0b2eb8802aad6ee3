"""bindContact events (seed 003 §2.5, REFERENCE.md §3) and the portal's decisions before the plugin binds.

The plugin reports ``onVoipEvent`` → ``bindContact`` ``{type, errMsg, userId}`` to the
mini-program, which reports it to the portal (``source`` plugin). When the portal itself refuses a
binding, it answers with the same types and records them too (``source`` portal).
"""

from dataclasses import dataclass

from contacts.models import BindEvent, Contact, Parent, ShareLink
from schools.models import Student
from schools.services.events import event_emit

BIND_CONTACT_EVENT = "bindContact"  # the outbox event type of every bindContact outcome of a student

# errMsg of each bindContact type (seed 003 §2.5), in the plugin's "api:ok" / "api:fail …" style.
BIND_ERRMSG = {
    BindEvent.Type.SUCCESS: "bindContact:ok",
    BindEvent.Type.UNBIND: "bindContact:fail the contact is not bound to this student",
    BindEvent.Type.BINDED: "bindContact:fail the contact is already bound to this student",
    BindEvent.Type.EXPIRE: "bindContact:fail the share link has expired",
    BindEvent.Type.OVERLOAD: "bindContact:fail the student's contacts have reached the limit",
    BindEvent.Type.INVALID: "bindContact:fail the share link is not valid",
    BindEvent.Type.AUTH: "bindContact:fail scope.voip has not been granted",
    BindEvent.Type.CANCEL: "bindContact:ok the contact has been unbound",
}


@dataclass(frozen=True)
class BindDecision:
    """The portal's answer before the plugin binds (seed 003 §2.1): ``allowed`` (with the reserved
    ``contact``), or refused with WeChat's bindContact ``type`` and ``err_msg`` (``errMsg``)."""

    allowed: bool
    user_id: str
    type: str = ""
    err_msg: str = ""
    contact: Contact | None = None


def bind_event_record(
    *,
    type: str,
    parent: Parent,
    student: Student | None = None,
    share_link: ShareLink | None = None,
    source: str = BindEvent.Source.PORTAL,
    err_msg: str = "",
) -> BindEvent:
    """Write one ``BindEvent`` of ``type`` for ``parent`` (and ``student``); call inside the change's transaction.

    ``err_msg`` defaults to the portal's message of ``type`` (a report keeps the plugin's own).
    With a student, the outcome is also an outbox event (``bindContact``) for the school's systems.
    """
    event = BindEvent.objects.create(
        type=type,
        source=source,
        err_msg=(err_msg or BIND_ERRMSG[type])[:255],
        user_id=student.user_id if student else "",
        openid=parent.openid,
        student=student,
        share_link=share_link,
    )
    if student is not None:
        event_emit(
            school_id=student.school_id,
            type=BIND_CONTACT_EVENT,
            data={
                "type": event.type,
                "errMsg": event.err_msg,
                "userId": event.user_id,
                "openid": event.openid,
                "source": event.source,
            },
            now=event.created_at,
        )
    return event


def bind_refusal(
    type: str, *, parent: Parent, student: Student | None, share_link: ShareLink | None = None, contact=None
) -> BindDecision:
    """Refuse a binding with the bindContact ``type``, recorded as a ``BindEvent`` of the portal."""
    event = bind_event_record(type=type, parent=parent, student=student, share_link=share_link)
    return BindDecision(allowed=False, user_id=event.user_id, type=event.type, err_msg=event.err_msg, contact=contact)
