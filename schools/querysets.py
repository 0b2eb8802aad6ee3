"""The one tenant-scoping mechanism of the portal's data: every school's row knows its school.

A model declares ``school_path``: the lookup path from a row to its ``School`` (``"school"``,
``"student__school"``, ``"pk"`` for the school itself), or a tuple of paths of which one is set
(device authorizations: ``("device__school", "group__school")``). Its manager comes from
``SchoolScopedQuerySet``, whose ``for_school`` is what every admin, staff service, API client
and dashboard query goes through (``schools.tenancy`` decides, for a staff user, which school).
"""

from django.contrib.admin.utils import get_fields_from_path
from django.db import models
from django.db.models import Q


def active_q(prefix: str = "") -> Q:
    """An active row (a student, a device, an API client) of an active school: the one rule of "active".

    ``prefix`` reaches the row from another model, e.g. ``active_q("student__")`` for the
    contacts of active students, ``active_q("client__")`` for the tokens of active clients.
    """
    return Q(**{f"{prefix}is_active": True, f"{prefix}school__is_active": True})


class SchoolScopedQuerySet(models.QuerySet):
    """Rows of a model with a ``school_path`` (see the module)."""

    def _school_paths(self) -> tuple[str, ...]:
        path = self.model.school_path
        return (path,) if isinstance(path, str) else tuple(path)

    def _multi_valued(self, path: str) -> bool:
        if path == "pk":
            return False
        return any(f.one_to_many or f.many_to_many for f in get_fields_from_path(self.model, path))

    def for_school(self, school_id: int):
        """The rows of one school (none for a school id that does not exist, e.g. -1).

        A path through a multi-valued relation (a parent reaches its schools through its
        contacts) filters with a subquery, so no row appears twice.
        """
        q = Q()
        multi_valued = False
        for path in self._school_paths():
            q |= Q(pk=school_id) if path == "pk" else Q(**{f"{path}_id": school_id})
            multi_valued |= self._multi_valued(path)
        if multi_valued:
            return self.filter(pk__in=self.model._base_manager.filter(q).values("pk"))
        return self.filter(q)


class ActiveInSchoolQuerySet(SchoolScopedQuerySet):
    """Rows with ``is_active`` of a school with ``is_active``: students, devices, API clients."""

    def active(self):
        """Active rows of active schools (``active_q``)."""
        return self.filter(active_q())


class WebhookEndpointQuerySet(SchoolScopedQuerySet):
    def receiving(self, school_ids):
        """``(endpoint pk, school pk)`` of every active endpoint that receives the events of
        ``school_ids``: a school's own, and an active API client's for each school it is granted.
        The one rule of who is told (``schools.services.events.events_emit``); one query."""
        own = self.filter(is_active=True, school_id__in=school_ids)
        of_clients = self.filter(is_active=True, client__is_active=True, client__grants__school_id__in=school_ids)
        return (
            own.order_by()
            .values_list("pk", "school_id")
            .union(of_clients.order_by().values_list("pk", "client__grants__school_id"), all=True)
        )
