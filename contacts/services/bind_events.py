"""bindContact events (seed 003 §2.5, REFERENCE.md §3): every binding outcome is recorded.

The plugin reports ``onVoipEvent`` → ``bindContact`` with ``{type, errMsg, userId}``; the
portal records each outcome it decides as a ``BindEvent`` and answers the same shape.
"""

from dataclasses import dataclass

from contacts.models import BindEvent, Contact, Parent, ShareLink
from schools.models import Student

# errMsg of each bindContact type (seed 003 §2.5), in the plugin's "api:ok" / "api:fail …" style.
BIND_ERRMSG = {
    BindEvent.Type.SUCCESS: "bindContact:ok",
    BindEvent.Type.BINDED: "bindContact:fail the contact is already bound to this student",
    BindEvent.Type.EXPIRE: "bindContact:fail the share link has expired",
    BindEvent.Type.OVERLOAD: "bindContact:fail the student's contacts have reached the limit",
    BindEvent.Type.INVALID: "bindContact:fail the share link is not valid",
    BindEvent.Type.AUTH: "bindContact:fail scope.voip has not been granted",
    BindEvent.Type.CANCEL: "bindContact:ok the contact has been unbound",
}


@dataclass(frozen=True)
class BindOutcome:
    """A bindContact event (WeChat's ``type``, ``errMsg``, ``userId``) and its contact, if any."""

    type: str
    err_msg: str
    user_id: str
    contact: Contact | None = None


def bind_event_record(
    *, type: str, parent: Parent, student: Student | None = None, share_link: ShareLink | None = None
) -> BindEvent:
    """Write one ``BindEvent`` of ``type`` for ``parent`` (and ``student``); call inside the change's transaction."""
    return BindEvent.objects.create(
        type=type,
        err_msg=BIND_ERRMSG[type],
        user_id=student.user_id if student else "",
        openid=parent.openid,
        student=student,
        share_link=share_link,
    )


def bind_outcome(
    type: str, *, parent: Parent, student: Student | None, share_link: ShareLink | None = None, contact=None
) -> BindOutcome:
    """Record the outcome ``type`` as a ``BindEvent`` and return it as the API answers it."""
    event = bind_event_record(type=type, parent=parent, student=student, share_link=share_link)
    return BindOutcome(type=event.type, err_msg=event.err_msg, user_id=event.user_id, contact=contact)
