"""Device authorizations, call policy and call records.

Sources: seed 000 (wx.requestDeviceVoIP, wx.getDeviceVoIPList, getIotBindContactList),
seed 002 FAQ 1.1 (timeLimit), 1.5 (round-robin), 1.8 (traffic), REFERENCE.md §2 and §4.
WeChat offers no server API for authorization status (REFERENCE.md §2): these rows are the record.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from calls.querysets import CallRecordQuerySet, DeviceAuthorizationQuerySet
from contacts.models import Parent
from core.local_time import local_display
from schools.models import Device, DeviceGroup, School, Student
from schools.querysets import SchoolScopedQuerySet

RING_TIMEOUT_MAX = 60  # WeChat rings for 60 s (REFERENCE.md §4)


class BusinessType(models.IntegerChoices):
    """initByCaller ``businessType`` (REFERENCE.md §4): 0 and 3 in face-pay mode (seed 003 §1), 1 in hardware mode."""

    DURATION = 0, _("face-pay, duration billing")
    DEVICE = 1, _("device calls a phone (hardware mode)")
    PHONE_TO_DEVICE = 2, _("phone calls an Android device")
    LICENSE = 3, _("face-pay, license billing")


# A school's face-pay billing (the policy): duration or license (seed 003 §1).
FACE_PAY_BUSINESS_TYPES = [(t.value, t.label) for t in (BusinessType.DURATION, BusinessType.LICENSE)]


class CameraStatus(models.IntegerChoices):
    ON = 0, _("camera on")
    OFF = 1, _("camera off")


class RoomType(models.TextChoices):
    VOICE = "voice", _("voice")
    VIDEO = "video", _("video")


class AuthorizationStatus(models.IntegerChoices):
    """``status`` of ``wx.requestDeviceVoIP`` / ``wx.getDeviceVoIPList`` (seed 000 §4.1)."""

    REFUSED = 0, _("not authorized")
    AUTHORIZED = 1, _("authorized")


class AuthorizationSource(models.TextChoices):
    REQUEST = "request", _("wx.requestDeviceVoIP")
    RECONCILE = "reconcile", _("wx.getDeviceVoIPList")
    CALL_ERROR = "call_error", _("errCode 9 reported by a device")


class CallPolicy(models.Model):
    """A school's call policy; ``StudentCallPolicy`` overrides any field for one student."""

    school = models.OneToOneField(
        School, on_delete=models.CASCADE, related_name="call_policy", verbose_name=_("school")
    )
    time_limit = models.PositiveIntegerField(
        _("time limit (seconds)"),
        default=600,
        validators=[MinValueValidator(1)],
        help_text=_("initByCaller timeLimit."),
    )
    daily_minutes = models.PositiveIntegerField(
        _("daily minutes per student"),
        default=30,
        help_text=_("Connected minutes a student may use per day; 0 = no limit."),
    )
    business_type = models.PositiveSmallIntegerField(
        _("business type"),
        choices=FACE_PAY_BUSINESS_TYPES,
        default=BusinessType.DURATION,
        help_text=_("Face-pay phones' billing (businessType); hardware-mode phones always call with businessType 1."),
    )
    camera_status = models.PositiveSmallIntegerField(
        _("default camera"), choices=CameraStatus.choices, default=CameraStatus.ON
    )
    ring_timeout = models.PositiveSmallIntegerField(
        _("ring timeout (seconds)"),
        default=30,
        validators=[MinValueValidator(5), MaxValueValidator(RING_TIMEOUT_MAX)],
        help_text=_("How long one contact rings before the next is called (FAQ 1.5)."),
    )
    repeat_interval = models.PositiveSmallIntegerField(
        _("repeat-call interval (seconds)"),
        default=30,
        help_text=_("A student may not call the same parent again sooner."),
    )

    school_path = "school"
    objects = SchoolScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("call policy")
        verbose_name_plural = _("call policies")
        constraints = [
            models.CheckConstraint(
                condition=Q(ring_timeout__gte=5, ring_timeout__lte=RING_TIMEOUT_MAX),
                name="call_policy_ring_timeout_range",
            ),
            models.CheckConstraint(condition=Q(business_type__in=[0, 3]), name="call_policy_business_type_valid"),
            models.CheckConstraint(condition=Q(time_limit__gte=1), name="call_policy_time_limit_positive"),
        ]

    def __str__(self):
        return str(self.school)


class StudentCallPolicy(models.Model):
    """One student's exceptions to the school's call policy; empty fields inherit."""

    student = models.OneToOneField(
        Student, on_delete=models.CASCADE, related_name="call_policy", verbose_name=_("student")
    )
    time_limit = models.PositiveIntegerField(
        _("time limit (seconds)"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    daily_minutes = models.PositiveIntegerField(_("daily minutes"), null=True, blank=True)
    business_type = models.PositiveSmallIntegerField(
        _("business type"),
        choices=FACE_PAY_BUSINESS_TYPES,
        null=True,
        blank=True,
        help_text=_("initByCaller businessType."),
    )
    camera_status = models.PositiveSmallIntegerField(
        _("default camera"), choices=CameraStatus.choices, null=True, blank=True
    )
    ring_timeout = models.PositiveSmallIntegerField(
        _("ring timeout (seconds)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(5), MaxValueValidator(RING_TIMEOUT_MAX)],
    )

    school_path = "student__school"
    objects = SchoolScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("student call policy")
        verbose_name_plural = _("student call policies")
        constraints = [
            models.CheckConstraint(
                condition=Q(ring_timeout__isnull=True) | Q(ring_timeout__gte=5, ring_timeout__lte=RING_TIMEOUT_MAX),
                name="student_call_policy_ring_timeout_range",
            ),
        ]

    def __str__(self):
        return str(self.student)


class CallingWindow(models.Model):
    """A weekly period in which students may call (local time, Asia/Shanghai).

    A school without windows allows calls at any time; with windows, only inside one of them,
    so class periods are simply left out.
    """

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    school = models.ForeignKey(
        School, on_delete=models.CASCADE, related_name="calling_windows", verbose_name=_("school")
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start_time = models.TimeField(_("from"))
    end_time = models.TimeField(_("until"))

    school_path = "school"
    objects = SchoolScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("calling window")
        verbose_name_plural = _("calling windows")
        ordering = ["school_id", "weekday", "start_time"]  # no join to schools for the order
        constraints = [
            models.CheckConstraint(
                condition=Q(start_time__lt=models.F("end_time")), name="calling_window_starts_before_end"
            ),
            models.CheckConstraint(condition=Q(weekday__gte=0, weekday__lte=6), name="calling_window_weekday_valid"),
        ]

    def __str__(self):
        return f"{self.get_weekday_display()} {self.start_time:%H:%M}-{self.end_time:%H:%M}"


class DeviceAuthorization(models.Model):
    """What a parent's ``wx.requestDeviceVoIP`` / ``wx.getDeviceVoIPList`` said of a device or a group.

    Exactly one of ``device`` and ``group`` is set. A group authorization covers every device in the
    group; a direct device authorization survives the device leaving the group (REFERENCE.md §1).
    ``stale`` is set when a device reported errCode 9 for this parent: the record is no longer
    trusted until the mini-program reports again.
    """

    parent = models.ForeignKey(
        Parent, on_delete=models.CASCADE, related_name="device_authorizations", verbose_name=_("parent")
    )
    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, null=True, blank=True, related_name="authorizations", verbose_name=_("device")
    )
    group = models.ForeignKey(
        DeviceGroup,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="authorizations",
        verbose_name=_("device group"),
    )
    status = models.PositiveSmallIntegerField(_("status"), choices=AuthorizationStatus.choices)
    stale = models.BooleanField(_("stale"), default=False)
    source = models.CharField(_("source"), max_length=16, choices=AuthorizationSource.choices)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    Status = AuthorizationStatus
    school_path = ("device__school", "group__school")  # exactly one of them is set
    objects = DeviceAuthorizationQuerySet.as_manager()

    class Meta:
        verbose_name = _("device authorization")
        verbose_name_plural = _("device authorizations")
        constraints = [
            models.CheckConstraint(
                condition=Q(device__isnull=False, group__isnull=True) | Q(device__isnull=True, group__isnull=False),
                name="device_authorization_device_xor_group",
            ),
            models.UniqueConstraint(
                fields=["parent", "device"],
                condition=Q(device__isnull=False),
                name="device_authorization_unique_device",
            ),
            models.UniqueConstraint(
                fields=["parent", "group"], condition=Q(group__isnull=False), name="device_authorization_unique_group"
            ),
            models.CheckConstraint(condition=Q(status__in=[0, 1]), name="device_authorization_status_valid"),
        ]

    def __str__(self):
        return f"{self.parent} · {self.device or self.group} · {self.get_status_display()}"


class DeviceAuthorizationHistory(models.Model):
    """Every change of a ``DeviceAuthorization``: who, what, when, from which source."""

    parent = models.ForeignKey(Parent, on_delete=models.CASCADE, related_name="+", verbose_name=_("parent"))
    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("device")
    )
    group = models.ForeignKey(
        DeviceGroup, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("device group")
    )
    status = models.PositiveSmallIntegerField(
        _("status"), choices=AuthorizationStatus.choices, null=True, blank=True, help_text=_("Empty: record removed.")
    )
    stale = models.BooleanField(_("stale"), default=False)
    source = models.CharField(_("source"), max_length=16, choices=AuthorizationSource.choices)
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)

    school_path = ("device__school", "group__school")
    objects = SchoolScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("device authorization history")
        verbose_name_plural = _("device authorization history")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        status = self.get_status_display() if self.status is not None else _("record removed")
        return f"{self.parent} · {self.device or self.group} → {status}"


class CallRecord(models.Model):
    """One call, keyed by the plugin's ``roomId``, built from its ``onVoipEvent`` events (REFERENCE.md §4).

    Derived fields are recomputed from the set of events received, so repeated or out-of-order
    events give the same record.
    """

    class Outcome(models.TextChoices):
        STARTED = "started", _("ringing")
        ANSWERED = "answered", _("answered")
        COMPLETED = "completed", _("completed")
        CANCELLED = "cancelled", _("cancelled")
        REJECTED = "rejected", _("rejected")
        TIMEOUT = "timeout", _("not answered")
        BUSY = "busy", _("busy")
        ABORTED = "aborted", _("aborted")
        FAILED = "failed", _("failed to start")

    room_id = models.CharField(_("call ID"), max_length=128, unique=True, help_text=_("WeChat's roomId."))
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="call_records", verbose_name=_("school"))
    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="call_records", verbose_name=_("device"))
    student = models.ForeignKey(
        Student, on_delete=models.PROTECT, related_name="call_records", verbose_name=_("student")
    )
    parent = models.ForeignKey(
        Parent, on_delete=models.SET_NULL, null=True, blank=True, related_name="call_records", verbose_name=_("parent")
    )
    openid = models.CharField(_("WeChat user ID"), max_length=128, help_text=_("WeChat's openid."))
    room_type = models.CharField(
        _("call type"),
        max_length=8,
        choices=RoomType.choices,
        default=RoomType.VOICE,
        help_text=_("initByCaller roomType."),
    )
    business_type = models.PositiveSmallIntegerField(
        _("business type"),
        choices=BusinessType.choices,
        default=BusinessType.DURATION,
        help_text=_("initByCaller businessType."),
    )
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.STARTED)
    started_at = models.DateTimeField(_("started at"), default=timezone.now, db_index=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    keep_time = models.PositiveIntegerField(
        _("call length (seconds)"), default=0, help_text=_("keepTime, as the device reported it.")
    )
    billed_seconds = models.PositiveIntegerField(
        _("billed seconds"), null=True, blank=True, help_text=_("finishVoip keepTime.")
    )
    end_reason = models.CharField(_("end reason"), max_length=64, blank=True)
    err_code = models.IntegerField(_("error code"), null=True, blank=True, help_text=_("initByCaller's errCode."))
    events = models.JSONField(_("events"), default=dict, blank=True, help_text=_("eventName → {data, received_at}."))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    school_path = "school"
    objects = CallRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("call record")
        verbose_name_plural = _("call records")
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["student", "started_at"], name="call_student_started_idx"),
            models.Index(fields=["student", "openid", "started_at"], name="call_student_openid_idx"),
            models.Index(fields=["school", "started_at"], name="call_school_started_idx"),
        ]

    def __str__(self):
        return self.room_id

    @property
    def connected_seconds(self) -> int:
        """``CallRecordQuerySet.connected_seconds`` for one loaded call: billed seconds when WeChat
        reported them (finishVoip), else the device's keepTime."""
        return self.billed_seconds if self.billed_seconds is not None else self.keep_time


class CallUsage(CallRecord):
    """The call records seen as a usage report: calls, minutes and traffic per day (``calls.selectors.reports``)."""

    class Meta:
        proxy = True
        verbose_name = _("call usage")
        verbose_name_plural = _("call usage")


class CallFailure(CallRecord):
    """The calls initByCaller refused, counted per device, day and errCode (``calls.selectors.reports``)."""

    class Meta:
        proxy = True
        verbose_name = _("initByCaller failure")
        verbose_name_plural = _("initByCaller failures")


class InvariantCheckRun(models.Model):
    """One run of the invariant checks over the whole database (``calls.services.invariants``): the
    beat task's daily report to the platform's staff, or ``manage.py check_invariants --record``.

    ``details``: one entry per invariant checked, ``{code, title, total, lines, error}`` (``lines``:
    the first problems, readable; ``total``: all of them). ``problems``: the sum of the totals.
    """

    started_at = models.DateTimeField(_("started at"), default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    problems = models.PositiveIntegerField(_("problems"), default=0)
    details = models.JSONField(_("details"), default=list, blank=True)

    class Meta:
        verbose_name = _("invariant check")
        verbose_name_plural = _("invariant checks")
        ordering = ["-started_at", "-id"]

    def __str__(self):
        return f"{local_display(self.started_at)} · {self.problems}"
