"""The calls app's invariant, and every app's invariants in one list (``schools.invariants``; issue 10 §4).

No contact of an inactive student (or of a student of an inactive school) is served to a device.
Deactivation keeps a student's contacts (so that reactivating restores them), so the rule lives in
the reads devices make, and it is checked through those very reads, as each vendor's API client
makes them: getvoipcontactlist (``contacts.selectors.contacts.voip_contact_list``), and the call
plan and pre-call check, which start from the student a client may name
(``calls.selectors.clients.student_get_for_client``, then ``calls.selectors.checks``).

``ALL_INVARIANTS`` lists every app's, lowest layer first: what the ``check_invariants`` command and
beat task run (``calls.services.invariants``).
"""

from collections import defaultdict

from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _

from calls.selectors.checks import call_plan
from calls.selectors.clients import student_get_for_client
from contacts import invariants as contacts_invariants
from contacts.invariants import student_label
from contacts.models import Contact
from contacts.selectors.contacts import voip_contact_list
from core.errors import NotFound
from schools import invariants as schools_invariants
from schools.invariants import Breaks, Invariant
from schools.models import ApiClient, ApiClientGrant, Device, Student
from schools.querysets import active_q


def served_to_client(*, client: ApiClient, student: Student) -> set[str]:
    """The openids of ``student``'s contacts that ``client``'s devices are served: getvoipcontactlist,
    and, if the client may name the student at all (what the call plan, the pre-call check and
    getIotBindContactList start from), the call plan of one active phone of the school per call
    mode. The device reads themselves, as the vendor's API runs them. Ten queries at most."""
    openids = {c["open_id"] for c in voip_contact_list(client=client, user_id=student.user_id)}
    try:
        named = student_get_for_client(client=client, user_id=student.user_id)
    except NotFound:
        return openids
    devices = {}
    for device in Device.objects.active().filter(school_id=named.school_id).select_related("group").order_by("pk"):
        devices.setdefault(device.call_mode, device)
    for device in devices.values():
        openids |= {c.parent.openid for c in call_plan(device=device, student=named).contacts}
    return openids


def inactive_students_served(limit: int) -> Breaks:
    """Inactive students (or of inactive schools) whose contacts an active API client granted their
    school is served (``served_to_client``): one problem per (student, client). Only students that
    have contacts WeChat confirmed can be served at all; each is asked of every such client."""
    students = (
        Student.objects.exclude(active_q())
        .filter(Exists(Contact.objects.served().filter(student=OuterRef("pk"))))
        .select_related("school")
        .order_by("pk")
    )
    clients = defaultdict(list)
    for grant in ApiClientGrant.objects.filter(client__in=ApiClient.objects.active()).select_related("client"):
        clients[grant.school_id].append(grant.client)
    total, lines = 0, []
    for student in students.iterator():
        for client in clients.get(student.school_id, []):
            openids = served_to_client(client=client, student=student)
            if not openids:
                continue
            total += 1
            if len(lines) < limit:
                line = _("%(student)s is inactive, yet the device API of %(client)s serves its contacts %(openids)s.")
                lines.append(
                    str(
                        line
                        % {"student": student_label(student), "client": client, "openids": ", ".join(sorted(openids))}
                    )
                )
    return Breaks(total=total, lines=lines)


INVARIANTS = (
    Invariant(
        "calls.inactive_students_not_served",
        _("No contact of an inactive student is served to a device."),
        inactive_students_served,
    ),
)

ALL_INVARIANTS = (*schools_invariants.INVARIANTS, *contacts_invariants.INVARIANTS, *INVARIANTS)
