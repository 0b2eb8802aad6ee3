"""Schools, their devices and students, the staff who run them and the vendors' API clients.

Source of names and limits: REFERENCE.md §1 (who is who), §5 (device groups), seed 003.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.local_time import local_display
from core.lookups import TrigramContains
from core.models import HashedToken
from core.validators import (
    DEVICE_NAME_MAX_CHARS,
    GROUP_NAME_MAX_BYTES,
    MaxUtf8BytesValidator,
    sn_validator,
    wechat_id_validator,
)
from schools.pinyin import name_initials
from schools.querysets import ActiveInSchoolQuerySet, SchoolScopedQuerySet, WebhookEndpointQuerySet

CONTACT_LIMIT_MAX = 100
SHARE_LINK_TTL_MAX_HOURS = 30 * 24
GROUP_CAPACITY_DEFAULT = 50  # REFERENCE.md §1: 50 devices per group, 200 after expansion
GROUP_CAPACITY_MAX = 200


class CallMode(models.TextChoices):
    """How a campus phone calls (REFERENCE.md §1a). The two modes' rules are never mixed.

    ``face_pay`` (seed 003): a WeChat Pay face device calls as the student's ``user_id``; WeChat
    requires the listener's scope.voip and a contact binding. ``hardware`` (seed 000): the device
    calls as itself (``sn``); WeChat requires the listener's authorization of the device or its
    group. FAQ 3.7: face-pay devices do not support hardware mode.
    """

    FACE_PAY = "face_pay", _("face-pay mode (the student's user_id calls)")
    HARDWARE = "hardware", _("hardware mode (the device calls)")


class MiniprogramState(models.TextChoices):
    """``miniprogramState`` of initByCaller: which version of the mini-program the listener opens (FAQ 3.5)."""

    FORMAL = "formal", _("released version")
    TRIAL = "trial", _("trial version")
    DEVELOPER = "developer", _("developer version")


class School(models.Model):
    """A school: the tenant. Its settings bound what its parents may do (REFERENCE.md §3)."""

    name = models.CharField(_("name"), max_length=100)
    code = models.SlugField(_("code"), max_length=32, unique=True, help_text=_("Short unique code."))
    contact_limit = models.PositiveSmallIntegerField(
        _("contact limit"),
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(CONTACT_LIMIT_MAX)],
        help_text=_("Most contacts (admin included) one student may have."),
    )
    share_link_ttl = models.PositiveSmallIntegerField(
        _("share link lifetime (hours)"),
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(SHARE_LINK_TTL_MAX_HOURS)],
    )
    require_claim_code = models.BooleanField(
        _("require a claim code for admin binding"),
        default=True,
        help_text=_(
            "Parents must enter the code printed on the student's letter to become its admin contact. "
            "Without it, whoever learns a student's user_id first becomes its admin contact."
        ),
    )
    claim_code_ttl_days = models.PositiveSmallIntegerField(
        _("claim code lifetime (days)"), default=30, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    hardware_requires_contact = models.BooleanField(
        _("hardware-mode phones call bound contacts only"),
        default=True,
        help_text=_(
            "WeChat lets a hardware-mode phone call anyone who authorized it; with this on, the school also "
            "requires the listener to be a bound contact of the calling student."
        ),
    )
    miniprogram_state = models.CharField(
        _("mini-program version parents open"),
        max_length=16,
        choices=MiniprogramState.choices,
        default=MiniprogramState.FORMAL,
        help_text=_("miniprogramState of initByCaller: the released version unless the school is testing (FAQ 3.5)."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    school_path = "pk"
    objects = SchoolScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("school")
        verbose_name_plural = _("schools")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(contact_limit__gte=1, contact_limit__lte=CONTACT_LIMIT_MAX),
                name="school_contact_limit_range",
            ),
            models.CheckConstraint(
                condition=Q(share_link_ttl__gte=1, share_link_ttl__lte=SHARE_LINK_TTL_MAX_HOURS),
                name="school_share_link_ttl_range",
            ),
        ]

    def __str__(self):
        return self.name


class DeviceGroup(models.Model):
    """A WeChat device group: authorizing it authorizes each device in it (REFERENCE.md §1, §5; seed 000 §3).

    WeChat creates it (``group/createid``: the ``group_id``; name and ``model_id`` fixed then) and
    keeps its membership (``adddevice`` / ``removedevice``); ``schools.services.device_groups``
    makes every change there first and reads it back with ``getinfo``.
    """

    school = models.ForeignKey(
        School,
        on_delete=models.PROTECT,
        related_name="device_groups",
        verbose_name=_("school"),
        db_index=False,  # device_group_school_order_idx leads with school_id
    )
    name = models.CharField(
        _("name"),
        max_length=GROUP_NAME_MAX_BYTES,
        validators=[MaxUtf8BytesValidator(GROUP_NAME_MAX_BYTES)],
        help_text=_("1-32 bytes, fixed at creation; shown to parents when they authorize the group."),
    )
    group_id = models.CharField(
        _("device group ID"), max_length=64, unique=True, help_text=_("Issued by WeChat (group_id).")
    )
    model_id = models.CharField(
        _("device model ID"),
        max_length=64,
        blank=True,
        help_text=_("The device model of the group (WeChat's model_id), fixed at creation."),
    )
    checked_at = models.DateTimeField(_("membership checked at"), null=True, blank=True)
    model_type = models.CharField(_("device type"), max_length=32, help_text=_("For example 校园电话."))
    capacity = models.PositiveSmallIntegerField(
        _("capacity"),
        default=GROUP_CAPACITY_DEFAULT,
        validators=[MinValueValidator(1), MaxValueValidator(GROUP_CAPACITY_MAX)],
        help_text=_("Most devices in the group: 50, or 200 after WeChat expanded it."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    school_path = "school"
    objects = SchoolScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("device group")
        verbose_name_plural = _("device groups")
        # ``school_id``, not ``school``: ordering by the relation would join School and sort by its name.
        ordering = ["school_id", "name", "id"]
        indexes = [models.Index(fields=["school", "name", "id"], name="device_group_school_order_idx")]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="device_group_name_not_empty"),
            models.CheckConstraint(
                condition=Q(capacity__gte=1, capacity__lte=GROUP_CAPACITY_MAX), name="device_group_capacity_range"
            ),
        ]

    def __str__(self):
        return self.name


class Device(models.Model):
    """A campus phone, known to WeChat by ``(sn, model_id)`` (REFERENCE.md §1)."""

    school = models.ForeignKey(
        School,
        on_delete=models.PROTECT,
        related_name="devices",
        verbose_name=_("school"),
        db_index=False,  # device_school_order_idx leads with school_id
    )
    group = models.ForeignKey(
        DeviceGroup,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="devices",
        verbose_name=_("device group"),
    )
    sn = models.CharField(_("serial number"), max_length=128, validators=[sn_validator], help_text=_("WeChat's sn."))
    model_id = models.CharField(_("device model ID"), max_length=64, help_text=_("WeChat's model_id."))
    device_name = models.CharField(
        _("device name"),
        max_length=DEVICE_NAME_MAX_CHARS,
        help_text=_("At most 13 characters; parents see it followed by the device type."),
    )
    model_type = models.CharField(_("device type"), max_length=32, default="校园电话")
    call_mode = models.CharField(
        _("call mode"),
        max_length=16,
        choices=CallMode.choices,
        default=CallMode.HARDWARE,
        help_text=_(
            "Face-pay phones call as the student (contacts bound in the mini-program); hardware-mode "
            "phones call as themselves (parents authorize the phone or its group)."
        ),
    )
    location = models.CharField(_("location"), max_length=100, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    school_path = "school"
    objects = ActiveInSchoolQuerySet.as_manager()

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        ordering = ["school_id", "sn", "model_id"]  # (sn, model_id) is unique: a total order
        indexes = [models.Index(fields=["school", "sn", "model_id"], name="device_school_order_idx")]
        constraints = [
            models.UniqueConstraint(fields=["sn", "model_id"], name="device_unique_sn_model_id"),
            models.CheckConstraint(condition=~Q(device_name=""), name="device_name_not_empty"),
            models.CheckConstraint(condition=Q(call_mode__in=CallMode.values), name="device_call_mode_valid"),
            models.CheckConstraint(
                condition=Q(call_mode=CallMode.HARDWARE) | Q(group__isnull=True), name="device_group_only_hardware"
            ),
        ]

    def __str__(self):
        return f"{self.device_name} ({self.sn})"

    @property
    def display_name(self) -> str:
        """What WeChat shows the parent: ``deviceName`` + device type, e.g. ``iot 校园电话`` (seed 000 §1)."""
        return f"{self.device_name} {self.model_type}"

    def group_error(self, *, others_in_group: int) -> str | None:
        """Why ``self.group`` cannot take this device, or None (REFERENCE.md §1).

        A group takes hardware-mode devices of its own school and device type, up to its capacity;
        ``others_in_group`` is how many other devices it already holds. Used by ``clean`` and by
        the roster import, which counts in memory instead of asking the database per row.
        """
        group = self.group
        if self.call_mode != CallMode.HARDWARE:
            return _("Only hardware-mode phones go into device groups (face-pay phones call as the student).")
        if self.school_id and group.school_id != self.school_id:
            return _("The device group belongs to another school.")
        if group.model_type != self.model_type or (group.model_id and group.model_id != self.model_id):
            return _("The device group only takes devices of type %(model_type)s.") % {"model_type": group.model_type}
        if others_in_group >= group.capacity:
            return _("The device group is full (%(capacity)d devices).") % {"capacity": group.capacity}
        return None

    def clean(self):
        super().clean()
        if self.group_id is None:
            return
        error = self.group_error(others_in_group=self.group.devices.exclude(pk=self.pk).count())
        if error:
            raise ValidationError({"group": error})


class Student(models.Model):
    """A student, identified by the WeChat Pay face-recognition ``user_id`` (REFERENCE.md §1).

    Indexes for the admin at a million students (``bench/changelist.py``): the default ordering is
    ``student_school_order_idx`` (a page of the changelist is an index scan, no join, no sort), which
    also gives a school's grades and classes (``schools.selectors.class_vocabulary``);
    ``student_grade_class_idx`` gives every school's vocabulary and counts a grade or a class
    (a few hundred distinct pairs: deduplicated, the index is small). On PostgreSQL, migration 0015
    adds GIN trigram indexes on ``name`` and ``student_number``, 0018 on ``name_initials``
    (upper-cased, each character doubled: ``core.lookups``), which serve the admin's search
    (``trigram_contains``; ``user_id`` by equality) for terms of two characters or more. They are
    not in ``Meta.indexes`` because SQLite (``make run``) has no GIN and would rebuild them with
    the table.
    """

    school = models.ForeignKey(
        School,
        on_delete=models.PROTECT,
        related_name="students",
        verbose_name=_("school"),
        db_index=False,  # student_school_order_idx leads with school_id
    )
    user_id = models.CharField(
        _("face-pay user ID"),
        max_length=128,
        unique=True,
        validators=[wechat_id_validator],
        help_text=_("WeChat Pay face recognition's user_id."),
    )
    name = models.CharField(pgettext_lazy("person", "name"), max_length=64)
    name_initials = models.CharField(
        _("name initials"),
        max_length=64,
        blank=True,
        db_default="",  # rows written by raw SQL (bulk loads, benchmarks) get none: found by name only
        editable=False,
        help_text=_("The name's pinyin initials (王子涵: wzh), written with the name; staff search by them."),
    )
    grade = models.CharField(_("grade"), max_length=32, blank=True)
    class_name = models.CharField(_("class"), max_length=32, blank=True)
    student_number = models.CharField(_("student number"), max_length=32, blank=True)
    avatar_url = models.URLField(_("avatar URL"), max_length=500, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    school_path = "school"
    objects = ActiveInSchoolQuerySet.as_manager()

    class Meta:
        verbose_name = _("student")
        verbose_name_plural = _("students")
        # ``school_id``, not ``school``: ordering by the relation joins School and sorts a million rows
        # by its name. ``id`` last makes it total, so the admin adds no ``-pk`` the index cannot give.
        ordering = ["school_id", "grade", "class_name", "student_number", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["school", "student_number"],
                condition=~Q(student_number=""),
                name="student_unique_number_per_school",
            ),
            models.CheckConstraint(condition=~Q(user_id=""), name="student_user_id_not_empty"),
        ]
        indexes = [
            models.Index(
                fields=["school", "grade", "class_name", "student_number", "id"], name="student_school_order_idx"
            ),
            models.Index(fields=["grade", "class_name"], name="student_grade_class_idx"),
        ]

    def __str__(self):
        return f"{self.name} ({self.class_name or self.user_id})"

    def save(self, *args, **kwargs):
        """Saves ``name_initials`` with the name (``schools.pinyin``); the roster's bulk writes set
        them themselves (``contacts.resources``, ``contacts.roster_copy``)."""
        self.name_initials = name_initials(self.name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "name_initials"}
        super().save(*args, **kwargs)

    @property
    def is_active_in_active_school(self) -> bool:
        """``active_q`` for one loaded student: it and its school are active."""
        return self.is_active and self.school.is_active


for _searched in ("name", "name_initials", "student_number"):  # with a trigram index (migrations 0015, 0018)
    Student._meta.get_field(_searched).register_lookup(TrigramContains)


class StaffMembership(models.Model):
    """Ties a Django staff user to the one school whose rows it may see."""

    class Role(models.TextChoices):
        ADMIN = "admin", _("school administrator")
        VIEWER = "viewer", _("read-only viewer")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_membership", verbose_name=_("user")
    )
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="staff", verbose_name=_("school"))
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.ADMIN)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    school_path = "school"
    objects = SchoolScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("staff membership")
        verbose_name_plural = _("staff memberships")

    def __str__(self):
        return f"{self.user} @ {self.school}"


class ApiClientQuerySet(SchoolScopedQuerySet):
    def active(self):
        """Active clients granted at least one active school (a token of any other answers 40001)."""
        return self.filter(is_active=True).filter(
            Exists(ApiClientGrant.objects.filter(client=OuterRef("pk"), school__is_active=True))
        )


class ApiClient(models.Model):
    """A device vendor's backend, allowed to call the WeChat-compatible API for the schools it is
    granted (``ApiClientGrant``): a vendor with phones in 30 schools needs one appid.

    ``appid`` is public; the secret is shown once when issued and stored only as a SHA-256 digest.
    """

    schools = models.ManyToManyField(
        School, through="ApiClientGrant", related_name="api_clients", blank=True, verbose_name=_("schools")
    )
    name = models.CharField(_("name"), max_length=100)
    appid = models.CharField(
        _("app ID"), max_length=32, unique=True, help_text=_("The appid the vendor passes to /cgi-bin/token.")
    )
    secret_hash = models.CharField(_("secret digest"), max_length=64, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    # The client authenticates the WeChat-compatible API (request.user); DRF asks this.
    is_authenticated = True

    school_path = "grants__school"  # a client is of every school it is granted
    objects = ApiClientQuerySet.as_manager()

    class Meta:
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")
        ordering = ["name", "appid"]

    def __str__(self):
        return f"{self.name} ({self.appid})"

    def school_ids(self):
        """The active schools whose devices and students this client may name: a subquery of ids, or
        the list itself when the request's authentication already read it (``active_school_ids``,
        cached with the access token: ``schools.selectors.api_access_token_get``)."""
        known = getattr(self, "active_school_ids", None)
        if known is not None:
            return known
        return ApiClientGrant.objects.filter(client_id=self.pk, school__is_active=True).values("school_id")

    def school_id_list(self) -> list[int]:
        """``school_ids()`` as a list of school ids: what ``core.prepared`` queries take (one query
        unless the request's authentication already read them)."""
        known = self.school_ids()
        return list(known) if isinstance(known, list) else list(known.values_list("school_id", flat=True))


class ApiClientGrant(models.Model):
    """``client`` may call the device API for ``school``'s devices and students."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="grants", verbose_name=_("API client"))
    school = models.ForeignKey(
        School, on_delete=models.CASCADE, related_name="api_client_grants", verbose_name=_("school")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    school_path = "school"
    objects = SchoolScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("API client grant")
        verbose_name_plural = _("API client grants")
        constraints = [models.UniqueConstraint(fields=["client", "school"], name="api_client_grant_unique")]

    def __str__(self):
        return f"{self.client} → {self.school}"


class ApiAccessToken(HashedToken):
    """An ``access_token`` issued by ``/cgi-bin/token``; valid for 7200 s (REFERENCE.md §5)."""

    client = models.ForeignKey(
        ApiClient, on_delete=models.CASCADE, related_name="access_tokens", verbose_name=_("API client")
    )

    school_path = "client__grants__school"
    objects = SchoolScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("API access token")
        verbose_name_plural = _("API access tokens")
        indexes = [models.Index(fields=["expires_at"], name="api_token_expires_idx")]

    def __str__(self):
        return _("%(appid)s until %(time)s") % {
            "appid": self.client.appid,
            "time": local_display(self.expires_at),
        }


class AuditLog(models.Model):
    """Who changed what, when and why: one row per state change, written in the change's transaction."""

    class Action(models.TextChoices):
        ADMIN_BOUND = "admin_bound", _("admin contact bound")
        CONTACT_BOUND = "contact_bound", _("contact bound through a share link")
        CONTACT_DELETED = "contact_deleted", _("contact deleted by the admin")
        CONTACT_UNBOUND = "contact_unbound", _("contact unbound itself")
        ADMIN_TRANSFERRED = "admin_transferred", _("admin role transferred")
        SHARE_LINK_CREATED = "share_link_created", _("share link created")
        VOIP_SCOPE_CHANGED = "voip_scope_changed", _("scope.voip changed")
        API_SECRET_ISSUED = "api_secret_issued", _("API client secret issued")
        API_CLIENT_GRANTED = "api_client_granted", _("API client granted the school")
        API_CLIENT_UNGRANTED = "api_client_ungranted", _("API client no longer granted the school")
        DEVICE_GROUP_CREATED = "device_group_created", _("device group created at WeChat")
        DEVICE_GROUP_CHANGED = "device_group_changed", _("device moved between groups at WeChat")
        DEVICE_GROUP_RECONCILED = "device_group_reconciled", _("device group membership aligned with WeChat")
        CALL_ORDER_SET = "call_order_set", _("call order set")
        CLAIM_CODE_ISSUED = "claim_code_issued", _("claim code issued")
        STAFF_CONTACT_REMOVED = "staff_contact_removed", _("contact removed by staff")
        STAFF_ADMIN_TRANSFERRED = "staff_admin_transferred", _("admin role transferred by staff")
        STAFF_SHARE_LINKS_REVOKED = "staff_share_links_revoked", _("share links revoked by staff")
        STAFF_STUDENT_DEACTIVATED = "staff_student_deactivated", _("student deactivated by staff")
        CONTACT_REMOVAL_REPORTED = "contact_removal_reported", _("contact deletion reported by the admin")
        ADMIN_TRANSFER_REPORTED = "admin_transfer_reported", _("admin transfer reported by the admin")
        BINDING_RELEASED = "binding_released", _("allowed binding released: not completed at WeChat")
        WECHAT_CONTACT_CONFIRMED = "wechat_contact_confirmed", _("contact confirmed by WeChat")
        WECHAT_CONTACT_FOUND = "wechat_contact_found", _("contact found at WeChat and recorded")
        WECHAT_CONTACT_MISSING = "wechat_contact_missing", _("contact missing at WeChat: no longer served")
        WECHAT_CONTACT_REMOVED = "wechat_contact_removed", _("contact removal completed at WeChat")
        WECHAT_ROLE_ALIGNED = "wechat_role_aligned", _("role aligned with WeChat")
        WECHAT_OVER_LIMIT = "wechat_over_limit", _("more contacts at WeChat than the school's limit")
        WEBHOOK_SECRET_ISSUED = "webhook_secret_issued", _("webhook endpoint's secret issued")
        WEBHOOK_ENDPOINT_CHANGED = "webhook_endpoint_changed", _("webhook endpoint changed")
        WEBHOOK_REDELIVERED = "webhook_redelivered", _("webhook deliveries sent again")

    school = models.ForeignKey(
        School, on_delete=models.CASCADE, related_name="audit_logs", null=True, blank=True, verbose_name=_("school")
    )
    student = models.ForeignKey(
        Student, on_delete=models.CASCADE, related_name="audit_logs", null=True, blank=True, verbose_name=_("student")
    )
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("staff user"),
    )
    actor_openid = models.CharField(
        _("acting parent's WeChat user ID"), max_length=128, blank=True, help_text=_("WeChat's openid.")
    )
    action = models.CharField(_("action"), max_length=32, choices=Action.choices)
    reason = models.TextField(_("reason"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)

    school_path = "school"
    objects = SchoolScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit record")
        verbose_name_plural = _("audit records")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_action_display()} @ {local_display(self.created_at)}"


class ImportJob(models.Model):
    """A roster file imported in the background (``schools.roster.runner.import_job_run``, by Celery).

    The admin's import sends files of more than ``IMPORT_ASYNC_ROW_THRESHOLD`` rows here. The job
    checks every row first (``processed_rows`` counts them), then writes them all in one
    transaction, which also marks it done: it imports the whole file or, with ``errors``, nothing.
    The uploaded bytes are kept only until the job finishes.

    While it runs, its worker sets ``heartbeat_at`` every ``IMPORT_JOB_HEARTBEAT_SECONDS``; a job
    whose worker died (heartbeat older than ``IMPORT_JOB_STALE_SECONDS``) is run again from the
    start, nothing of it having been written, up to ``IMPORT_JOB_MAX_ATTEMPTS`` runs (``attempts``),
    then failed with that reason (``schools.roster.runner.import_jobs_recover``, beat).
    """

    class Kind(models.TextChoices):
        STUDENTS = "students", _("students")
        DEVICES = "devices", _("devices")
        GROUPS = "groups", _("device groups")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="import_jobs", verbose_name=_("school"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    file_name = models.CharField(_("file name"), max_length=255)
    file_format = models.CharField(_("file format"), max_length=8, help_text=_("csv or xlsx"))
    data = models.BinaryField(_("file"), default=b"", editable=False)
    deactivate_missing = models.BooleanField(_("deactivate students missing from the file"), default=False)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows checked"), default=0)
    totals = models.JSONField(
        _("result"), default=dict, blank=True, help_text=_("Rows new, updated, skipped; students deactivated.")
    )
    errors = models.JSONField(_("errors"), default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        _("last heartbeat"), null=True, blank=True, help_text=_("Set by the worker running the job, every few seconds.")
    )
    attempts = models.PositiveSmallIntegerField(_("runs"), default=0, help_text=_("Times a worker started the job."))

    school_path = "school"
    objects = SchoolScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.file_name}"

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return min(100, self.processed_rows * 100 // self.total_rows) if self.total_rows else 0


# --- Events: the transactional outbox and its webhooks (schools.services.events) ---------------------


class WebhookEndpoint(models.Model):
    """Where events are POSTed: a school's own receiver, or a vendor API client's (for every school
    it is granted). Signed with a secret derived from ``SECRET_KEY`` and ``secret_version``, shown
    once when issued (``schools.services.events.webhook_secret``); nothing secret is stored."""

    school = models.ForeignKey(
        School,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="webhook_endpoints",
        verbose_name=_("school"),
    )
    client = models.ForeignKey(
        ApiClient,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="webhook_endpoints",
        verbose_name=_("API client"),
    )
    url = models.URLField(_("URL"), max_length=500)
    is_active = models.BooleanField(_("active"), default=True)
    secret_version = models.PositiveIntegerField(_("secret version"), default=1, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    school_path = ("school", "client__grants__school")
    objects = WebhookEndpointQuerySet.as_manager()

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["url", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(school__isnull=False, client__isnull=True) | Q(school__isnull=True, client__isnull=False),
                name="webhook_endpoint_of_a_school_or_a_client",
            )
        ]

    def __str__(self):
        return self.url


class OutboxEvent(models.Model):
    """One event, written in the transaction of the change it tells (the transactional outbox).

    ``event_id`` is the receivers' idempotency key. ``position`` orders events in commit order for
    vendors who page through them (``GET /api/v1/device/events``): it is given after commit, one
    writer at a time (``schools.services.events.outbox_positions_assign``).
    """

    event_id = models.UUIDField(_("event id"), unique=True, editable=False)
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="events", verbose_name=_("school"))
    type = models.CharField(_("type"), max_length=64, db_index=True)
    data = models.JSONField(_("data"), default=dict)
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    position = models.BigIntegerField(_("position"), null=True, blank=True, unique=True)
    audit_log = models.OneToOneField(
        "AuditLog",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="event",
        verbose_name=_("audit log entry"),
    )

    school_path = "school"
    objects = SchoolScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-id"]

    def __str__(self):
        return f"{self.type} · {local_display(self.created_at)}"


class WebhookDelivery(models.Model):
    """An event's delivery to one endpoint: pending until the receiver answers 2xx, retried with
    exponential backoff and jitter, ``dead`` after ``WEBHOOK_MAX_ATTEMPTS`` (staff may redeliver)."""

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        DEAD = "dead", _("failed for good")

    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("event"))
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("webhook endpoint")
    )
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now, db_index=True)
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    last_status = models.PositiveIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    latency_ms = models.PositiveIntegerField(_("latency (ms)"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    school_path = "event__school"
    objects = SchoolScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_once_per_endpoint"),
            # Delivered exactly when it has its time; a state is one of State's.
            models.CheckConstraint(
                condition=Q(state="delivered", delivered_at__isnull=False)
                | Q(state__in=["pending", "dead"], delivered_at__isnull=True),
                name="webhook_delivery_state_and_time",
            ),
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due")]

    def __str__(self):
        return f"{self.event} → {self.endpoint}"
