"""Query rules of the calls app, each written once: connected time, answered calls, live authorizations.

All are school-scoped (``schools.querysets.SchoolScopedQuerySet``): call records through their
school, authorizations through their device or their group.
"""

from django.db.models import Q
from django.db.models.functions import Coalesce

from schools.querysets import SchoolScopedQuerySet


class CallRecordQuerySet(SchoolScopedQuerySet):
    def connected_seconds(self) -> Coalesce:
        """The SQL of a call's connected time, in seconds: ``billed_seconds`` when WeChat reported it
        (finishVoip), else the device's ``keep_time`` (``CallRecord.connected_seconds`` for one row).
        Only the connected phase is billed (REFERENCE.md §4): unanswered calls have 0."""
        return Coalesce("billed_seconds", "keep_time")

    def answered_q(self) -> Q:
        """Answered calls: a ``hangOnVoip`` was received, or the outcome says so."""
        outcome = self.model.Outcome
        return Q(answered_at__isnull=False) | Q(outcome__in=[outcome.ANSWERED, outcome.COMPLETED])


class DeviceAuthorizationQuerySet(SchoolScopedQuerySet):
    def covering(self, device):
        """Live authorizations covering ``device``: directly, or through its current group (seed 000 §3).

        Live: status authorized and not marked stale by a device's errCode 9.
        """
        covers = Q(device=device)
        if device.group_id:
            covers |= Q(group_id=device.group_id)
        return self.filter(covers, status=self.model.Status.AUTHORIZED, stale=False)
