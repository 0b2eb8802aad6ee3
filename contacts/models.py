"""Parents, their binding to students as contacts, share links and bindContact events.

Source: seed 003 §2 (binding, contact list, delete, transfer, events), REFERENCE.md §2-§3.
The invariants that must never be false are database constraints; the contact limit is kept
by locking the student row (``contacts.locks``, in every ``contacts.services`` module).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.naming import contact_name
from contacts.querysets import (
    CONTACT_LIST_ORDER,
    LIVE_CLAIM_CODE,
    ClaimCodeQuerySet,
    ContactQuerySet,
    ShareLinkQuerySet,
)
from core.local_time import local_display
from core.masking import mask_openid
from core.models import HashedToken
from core.validators import wechat_id_validator
from schools.models import Student
from schools.querysets import SchoolScopedQuerySet


class Parent(models.Model):
    """A WeChat user of the parents' mini-program, known by its ``openid`` (REFERENCE.md §1)."""

    openid = models.CharField(
        _("WeChat user ID"),
        max_length=128,
        unique=True,
        validators=[wechat_id_validator],
        help_text=_("WeChat's openid."),
    )
    unionid = models.CharField(_("WeChat union ID"), max_length=128, blank=True, help_text=_("WeChat's unionid."))
    nickname = models.CharField(_("nickname"), max_length=64, blank=True)
    voip_scope_granted = models.BooleanField(
        _("calls allowed"), default=False, help_text=_("The parent granted WeChat's scope.voip.")
    )
    voip_scope_updated_at = models.DateTimeField(_("calls allowed or not since"), null=True, blank=True)
    voip_scope_lost_at = models.DateTimeField(
        _("calls permission lost at"),
        null=True,
        blank=True,
        help_text=_(
            "When a device's call failed with errCode 8 (no scope.voip); the mini-program asks the parent again."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_login_at = models.DateTimeField(_("last login"), null=True, blank=True)

    # A parent authenticates the REST API (request.user); DRF and Django ask these.
    is_authenticated = True
    is_anonymous = False

    school_path = "contacts__student__school"
    objects = SchoolScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("parent")
        verbose_name_plural = _("parents")
        ordering = ["-created_at"]

    def __str__(self):
        # Outside the parent's own page: the nickname staff gave, else the openid masked. The
        # relation to a student is the contact's (``Contact.__str__``: 王子涵的妈妈).
        return self.nickname or mask_openid(self.openid)


class ParentToken(HashedToken):
    """A bearer token of the mini-program, stored as a SHA-256 digest; expires and can be revoked."""

    parent = models.ForeignKey(Parent, on_delete=models.CASCADE, related_name="tokens", verbose_name=_("parent"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("parent token")
        verbose_name_plural = _("parent tokens")
        indexes = [models.Index(fields=["expires_at"], name="parent_token_expires_idx")]

    def __str__(self):
        return _("%(openid)s until %(time)s") % {
            "openid": mask_openid(self.parent.openid),
            "time": local_display(self.expires_at),
        }


class ContactState(models.TextChoices):
    """Where a contact stands with WeChat (``Contact.state``)."""

    PENDING = "pending", _("allowed, awaiting WeChat")
    CONFIRMED = "confirmed", _("bound at WeChat")
    UNCONFIRMED = "unconfirmed", _("missing at WeChat")
    REMOVING = "removing", _("removal pending at WeChat")


class Contact(models.Model):
    """A parent bound to a student: the student may call it (seed 003 §2.1).

    ``role`` 1 is the admin contact (``is_ad``), the only one who may share links, delete
    contacts and transfer the role; PostgreSQL keeps one contact per (student, parent) and at
    most one admin per student.

    WeChat holds the binding itself (seed 003 §2.1; REFERENCE.md §1a): the plugin binds, deletes
    and transfers, and ``contacts.services.reconciliation`` keeps this row in step with WeChat's
    list. ``state`` says where the two stand; devices are served ``confirmed`` contacts only.
    """

    State = ContactState

    class Role(models.IntegerChoices):
        ORDINARY = 0, _("ordinary contact")
        ADMIN = 1, _("admin")

    class BoundVia(models.TextChoices):
        ADMIN_BINDING = "admin", _("admin binding")
        SHARE_LINK = "share_link", _("share link")
        STAFF = "staff", _("school staff")
        WECHAT = "wechat", _("found at WeChat")

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="contacts", verbose_name=_("student"))
    parent = models.ForeignKey(Parent, on_delete=models.CASCADE, related_name="contacts", verbose_name=_("parent"))
    role = models.PositiveSmallIntegerField(_("role"), choices=Role.choices, default=Role.ORDINARY)
    relation = models.CharField(_("relation"), max_length=16, blank=True, help_text=_("For example 爸爸, 妈妈, 爷爷."))
    bound_via = models.CharField(_("bound via"), max_length=16, choices=BoundVia.choices)
    share_link = models.ForeignKey(
        "ShareLink", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("share link")
    )
    bound_at = models.DateTimeField(_("bound at"), default=timezone.now)
    state = models.CharField(
        _("WeChat state"), max_length=16, choices=ContactState.choices, default=ContactState.PENDING
    )
    state_changed_at = models.DateTimeField(_("WeChat state since"), default=timezone.now)
    admin_requested_at = models.DateTimeField(
        _("admin role requested at"),
        null=True,
        blank=True,
        help_text=_("Staff asked that this contact become the admin; the admin contact carries it out (transerAdmin)."),
    )
    call_order = models.PositiveSmallIntegerField(
        _("call order"),
        null=True,
        blank=True,
        help_text=_("Position in the round-robin call plan, set by the admin contact."),
    )

    school_path = "student__school"
    objects = ContactQuerySet.as_manager()

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        # ``student_id``, not ``student``: the student's own ordering would join Student (and sort by it).
        ordering = ["student_id", *CONTACT_LIST_ORDER]
        constraints = [
            models.UniqueConstraint(fields=["student", "parent"], name="contact_unique_student_parent"),
            models.UniqueConstraint(fields=["student"], condition=Q(role=1), name="contact_one_admin_per_student"),
            models.CheckConstraint(condition=Q(role__in=[0, 1]), name="contact_role_valid"),
            models.CheckConstraint(condition=Q(state__in=ContactState.values), name="contact_state_valid"),
            models.UniqueConstraint(
                fields=["student"], condition=Q(admin_requested_at__isnull=False), name="contact_one_admin_request"
            ),
        ]

    def __str__(self):
        return contact_name(student_name=self.student.name, relation=self.relation)

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN

    @property
    def label(self) -> str:
        """The contact beside its student's name: its relation, else the parent's nickname, else the
        openid masked."""
        return self.relation or str(self.parent)


class ShareLink(HashedToken):
    """A link an admin contact shares so that another parent can bind (getBindContactPath, seed 003 §2.1).

    The token (256 random bits) is returned once and stored as a SHA-256 digest. A link may bind
    several parents until it expires (``expires_at``, school setting ``share_link_ttl``), is revoked,
    or its issuer stops being the student's admin.
    """

    class State(models.TextChoices):
        ACTIVE = "active", _("active")
        EXPIRED = "expired", _("expired")
        REVOKED = "revoked", _("revoked")

    student = models.ForeignKey(
        Student, on_delete=models.CASCADE, related_name="share_links", verbose_name=_("student")
    )
    issued_by = models.ForeignKey(
        Parent, on_delete=models.CASCADE, related_name="share_links", verbose_name=_("issued by")
    )
    user_name = models.CharField(_("student name shown"), max_length=64, blank=True)
    user_avatar = models.URLField(_("student avatar shown"), max_length=500, blank=True)
    plugin_path = models.CharField(
        _("plugin bind page"),
        max_length=1024,
        blank=True,
        help_text=_("The path getBindContactPath gave the admin's mini-program: the bind page opens it once allowed."),
    )
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.ACTIVE)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    school_path = "student__school"
    objects = ShareLinkQuerySet.as_manager()

    class Meta:
        verbose_name = _("share link")
        verbose_name_plural = _("share links")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")), name="share_link_expires_after_created"
            ),
        ]
        indexes = [
            # The expiry sweep's batches, in (expires_at, id) order (share_links_expire).
            models.Index(fields=["expires_at", "id"], condition=Q(state="active"), name="share_link_expiry_batch_idx"),
        ]

    def __str__(self):
        return f"{self.student} · {self.get_state_display()}"


class BindEvent(models.Model):
    """Every bindContact outcome, as the plugin's ``onVoipEvent`` reports it (seed 003 §2.5)."""

    class Type(models.TextChoices):
        SUCCESS = "success", _("bound")
        UNBIND = "unbind", _("not bound to this student")
        BINDED = "binded", _("already bound")
        EXPIRE = "expire", _("share link expired")
        OVERLOAD = "overload", _("contact limit reached")
        INVALID = "invalid", _("share link invalid")
        AUTH = "auth", _("scope.voip not granted")
        CANCEL = "cancel", _("contact unbound")

    class Source(models.TextChoices):
        PORTAL = "portal", _("the portal refused")
        PLUGIN = "plugin", _("reported by the plugin")

    type = models.CharField(_("type"), max_length=16, choices=Type.choices)
    source = models.CharField(_("source"), max_length=8, choices=Source.choices, default=Source.PORTAL)
    err_msg = models.CharField(_("WeChat's message"), max_length=255, help_text=_("bindContact's errMsg."))
    user_id = models.CharField(
        _("face-pay user ID"), max_length=128, blank=True, help_text=_("WeChat Pay face recognition's user_id.")
    )
    openid = models.CharField(_("WeChat user ID"), max_length=128, help_text=_("WeChat's openid."))
    student = models.ForeignKey(
        Student, on_delete=models.SET_NULL, null=True, blank=True, related_name="bind_events", verbose_name=_("student")
    )
    share_link = models.ForeignKey(
        ShareLink,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="bind_events",
        verbose_name=_("share link"),
    )
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)

    school_path = "student__school"
    objects = SchoolScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("bind event")
        verbose_name_plural = _("bind events")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_type_display()} {mask_openid(self.openid)} → {self.user_id}"


class ClaimCode(models.Model):
    """A code printed on a student's letter that a parent enters to become its admin contact.

    Required by ``admin_bind`` when the school sets ``require_claim_code``. Single use, expiring
    (``expires_at``, school setting ``claim_code_ttl_days``), per student. The raw code is shown
    once, in the letters; only a SHA-256 digest is stored (``contacts.services.claim_codes``). Issuing a new
    code revokes the student's live one, and PostgreSQL keeps at most one live code per student.
    """

    student = models.ForeignKey(
        Student, on_delete=models.CASCADE, related_name="claim_codes", verbose_name=_("student")
    )
    code_hash = models.CharField(_("code digest"), max_length=64, editable=False)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("issued by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    used_by = models.ForeignKey(
        Parent, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("used by")
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    school_path = "student__school"
    objects = ClaimCodeQuerySet.as_manager()

    class Meta:
        verbose_name = _("claim code")
        verbose_name_plural = _("claim codes")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["student"],
                condition=LIVE_CLAIM_CODE,
                name="claim_code_one_live_per_student",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")), name="claim_code_expires_after_created"
            ),
        ]

    def __str__(self):
        return f"{self.student} · {local_display(self.created_at)}"


class BindingCheck(models.Model):
    """When a student's contacts were last compared with WeChat's list (``contacts.services.reconciliation``)."""

    student = models.OneToOneField(
        Student, on_delete=models.CASCADE, primary_key=True, related_name="binding_check", verbose_name=_("student")
    )
    checked_at = models.DateTimeField(_("checked at"), db_index=True)
    contacts_at_wechat = models.PositiveSmallIntegerField(_("contacts at WeChat"), default=0)

    school_path = "student__school"
    objects = SchoolScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("check against WeChat")
        verbose_name_plural = _("checks against WeChat")

    def __str__(self):
        return f"{self.student} · {local_display(self.checked_at)}"


class BindingDifference(models.Model):
    """A difference between the portal's contacts of a student and WeChat's list (seed 003 §2.2).

    Open while ``resolved_at`` is empty: a contact missing at WeChat, a removal or an admin transfer
    WeChat has not carried out yet, a list over the school's contact limit. What reconciliation
    fixes by itself (a contact found at WeChat, a role aligned, a reservation WeChat never
    completed) is recorded resolved at once.
    """

    class Kind(models.TextChoices):
        FOUND_AT_WECHAT = "found_at_wechat", _("bound at WeChat, not in the portal: recorded")
        MISSING_AT_WECHAT = "missing_at_wechat", _("in the portal, not at WeChat: not served")
        ROLE_ALIGNED = "role_aligned", _("role differed: aligned with WeChat")
        PENDING_EXPIRED = "pending_expired", _("allowed binding never completed at WeChat: released")
        REMOVAL_PENDING = "removal_pending", _("removed here, still bound at WeChat")
        ADMIN_REQUEST_PENDING = "admin_request_pending", _("admin transfer requested, not yet done at WeChat")
        OVER_LIMIT = "over_limit", _("more contacts at WeChat than the school's limit")

    student = models.ForeignKey(
        Student, on_delete=models.CASCADE, related_name="binding_differences", verbose_name=_("student")
    )
    openid = models.CharField(_("WeChat user ID"), max_length=128, blank=True, help_text=_("WeChat's openid."))
    kind = models.CharField(_("difference"), max_length=32, choices=Kind.choices)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    detected_at = models.DateTimeField(_("detected at"), default=timezone.now, db_index=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    school_path = "student__school"
    objects = SchoolScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("difference from WeChat")
        verbose_name_plural = _("differences from WeChat")
        ordering = ["-detected_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["student", "openid", "kind"],
                condition=Q(resolved_at__isnull=True),
                name="binding_difference_one_open",
            ),
        ]

    def __str__(self):
        return f"{self.student} · {self.get_kind_display()}"


# WeChat's ``scene`` of getwxacodeunlimit: at most 32 visible characters (REFERENCE.md §5; WeChat's
# getUnlimitedQRCode). The portal's scenes are 12 letters and digits (``contacts.services.mini_program_codes``).
SCENE_MAX_LENGTH = 32
SCENE_SHAPE = r"^[0-9A-Za-z]{8,32}$"


class MiniProgramScene(models.Model):
    """The ``scene`` of a student's mini-program code: a short random code standing for the student.

    Printed inside the mini-program code on the claim-code letter and the class poster; the
    admin-binding page gets it in its launch options and asks ``GET /api/v1/scenes/{scene}`` which
    student it is. One per student, for good (``student`` is one-to-one; the code is unique).
    """

    student = models.OneToOneField(
        Student, on_delete=models.CASCADE, related_name="mini_program_scene", verbose_name=_("student")
    )
    code = models.CharField(
        _("code scene"),
        max_length=SCENE_MAX_LENGTH,
        unique=True,
        editable=False,
        help_text=_("The scene of getwxacodeunlimit."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    school_path = "student__school"
    objects = SchoolScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("mini-program scene")
        verbose_name_plural = _("mini-program scenes")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=SCENE_SHAPE), name="mini_program_scene_code_shape"),
        ]

    def __str__(self):
        return f"{self.student} · {self.code}"


class MiniProgramEnvVersion(models.TextChoices):
    """``env_version`` of getwxacodeunlimit: which version of the mini-program a code opens."""

    RELEASE = "release", _("released version")
    TRIAL = "trial", _("trial version")
    DEVELOP = "develop", _("developer version")


class MiniProgramCode(models.Model):
    """A mini-program code image as WeChat answered it (``getwxacodeunlimit``), kept so that letters
    and posters print again without asking WeChat: WeChat's codes never expire.

    One per (scene, page, env_version): the same scene opens another page, or another version of
    the mini-program, with another image. Only WeChat's images are kept, never the sandbox's
    local stand-ins (``contacts.services.mini_program_codes.wxacodes_get``).
    """

    EnvVersion = MiniProgramEnvVersion

    scene = models.ForeignKey(
        MiniProgramScene, on_delete=models.CASCADE, related_name="images", verbose_name=_("code scene")
    )
    page = models.CharField(_("page"), max_length=128)
    env_version = models.CharField(_("mini-program version"), max_length=16, choices=MiniProgramEnvVersion.choices)
    image = models.BinaryField(_("image"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    school_path = "scene__student__school"
    objects = SchoolScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("mini-program code")
        verbose_name_plural = _("mini-program codes")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["scene", "page", "env_version"], name="mini_program_code_unique"),
            models.CheckConstraint(
                condition=Q(env_version__in=MiniProgramEnvVersion.values), name="mini_program_code_env_valid"
            ),
        ]

    def __str__(self):
        return f"{self.scene.code} · {self.page} · {self.env_version}"
