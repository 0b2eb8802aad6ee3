"""Query rules of the contacts app, each written once: contact order, live share links and claim codes.

Every queryset here is school-scoped (``schools.querysets.SchoolScopedQuerySet``): a contact,
share link, bind event or claim code reaches its school through its student, a parent through
its contacts.
"""

from django.db.models import F, Q, Subquery
from django.utils import timezone

from schools.querysets import SchoolScopedQuerySet, active_q

# A claim code neither used nor revoked (it may have expired): PostgreSQL keeps one per student.
LIVE_CLAIM_CODE = Q(used_at__isnull=True, revoked_at__isnull=True)

# How a student's contacts are listed (getVoipBindContactList, getvoipcontactlist, the admin):
# the admin contact first, then by binding time.
CONTACT_LIST_ORDER = ("-role", "bound_at", "id")


class ContactQuerySet(SchoolScopedQuerySet):
    def of_active_students(self):
        """Contacts of active students of active schools: the only ones a parent or device is served."""
        return self.filter(active_q("student__"))

    def served(self):
        """Contacts devices are served (check, call plan, vendors' contact list): those WeChat has
        (``confirmed``). A reservation WeChat has not confirmed, a contact missing at WeChat and a
        removal pending at WeChat are not served."""
        return self.filter(state=self.model.State.CONFIRMED)

    def in_contact_limit(self):
        """Contacts the school's ``contact_limit`` counts: every one, whatever its WeChat state (a
        reservation holds its place; a contact missing at WeChat or on its way out is still bound
        there, or may be again). The binding services and ``contacts.invariants`` count these."""
        return self.all()

    def relation_of(self, **lookups) -> Subquery:
        """The relation (妈妈) of the contact ``lookups`` name (``student_id=OuterRef(…)`` and the parent
        by ``parent_id`` or ``parent__openid``), as a subquery: how a list of rows that name a parent
        beside a student (call records, bind events) names it as a contact, one query for the page."""
        return Subquery(self.filter(**lookups).order_by().values("relation")[:1])

    def remaining(self):
        """Contacts not on their way out: a removal pending at WeChat (``removing``) left out. What a
        parent sees as its own students and what it may act on."""
        return self.exclude(state=self.model.State.REMOVING)

    def in_list_order(self):
        """Admin first, then by binding time (``CONTACT_LIST_ORDER``)."""
        return self.order_by(*CONTACT_LIST_ORDER)

    def in_call_order(self):
        """Round-robin calling order (FAQ 1.5): the admin's ``call_order`` first, the rest in list order."""
        return self.order_by(F("call_order").asc(nulls_last=True), *CONTACT_LIST_ORDER)


class ShareLinkQuerySet(SchoolScopedQuerySet):
    """A link's stored ``state`` is ``active`` until the sweep marks it expired or someone revokes it;
    past ``expires_at`` it binds nobody, swept or not. Each state's rule is a ``Q`` (for filters and
    aggregates) and a method."""

    def usable_q(self, now=None) -> Q:
        """Active and not past ``expires_at``: a link that binds."""
        return Q(state=self.model.State.ACTIVE, expires_at__gt=now or timezone.now())

    def expired_q(self, now=None) -> Q:
        """Expired, swept or not yet swept."""
        state = self.model.State
        return Q(state=state.EXPIRED) | Q(state=state.ACTIVE, expires_at__lte=now or timezone.now())

    def revoked_q(self) -> Q:
        return Q(state=self.model.State.REVOKED)

    def active(self):
        """Links in state ``active`` (possibly past ``expires_at``, until the sweep runs): what revocation changes."""
        return self.filter(state=self.model.State.ACTIVE)

    def usable(self, now=None):
        return self.filter(self.usable_q(now))

    def past_expiry(self, now=None):
        """Active links past ``expires_at``: what the sweep marks expired."""
        return self.active().filter(expires_at__lte=now or timezone.now())

    def expired(self, now=None):
        return self.filter(self.expired_q(now))


class ClaimCodeQuerySet(SchoolScopedQuerySet):
    def live(self):
        """Neither used nor revoked (possibly expired; ``LIVE_CLAIM_CODE``)."""
        return self.filter(LIVE_CLAIM_CODE)

    def usable(self, now=None):
        """Live and not expired: the code a parent may enter."""
        return self.live().filter(expires_at__gt=now or timezone.now())

    def expired(self, now=None):
        """Live but past ``expires_at``."""
        return self.live().filter(expires_at__lte=now or timezone.now())
