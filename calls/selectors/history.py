"""What a parent sees of its own: its device authorizations and its students' calls."""

from calls.models import CallRecord, DeviceAuthorization
from contacts.models import Contact, Parent


def authorizations_of(*, parent: Parent) -> list[DeviceAuthorization]:
    """The caller's authorization records with device and group, for the getDeviceVoIPList shape."""
    return list(
        DeviceAuthorization.objects.filter(parent=parent)
        .select_related("device", "group")
        .order_by("group_id", "device_id")
    )


def call_history(*, contact: Contact):
    """Calls of the contact's student, newest first: all of them for the admin, only its own for an
    ordinary contact (a queryset, for pagination)."""
    calls = (
        CallRecord.objects.filter(student_id=contact.student_id).select_related("device").order_by("-started_at", "-id")
    )
    return calls if contact.is_admin else calls.filter(openid=contact.parent.openid)
