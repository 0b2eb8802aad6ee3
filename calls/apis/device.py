"""Server-to-server API for device vendors (``?access_token=`` from ``/cgi-bin/token``).

Errors answer WeChat-style ``{errcode, errmsg}`` with a 4xx status; a device or student outside
the schools the client is granted is unknown to it (``calls.selectors.clients``), and every answer
follows the device's school and call mode (face-pay or hardware, REFERENCE.md §1a). errcodes:
REFERENCE.md §4 (8, 9) and the portal's 93000xx (``core.wechat.errcodes``).
"""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers

from calls.models import BusinessType, RoomType
from calls.selectors.checks import call_check, call_plan, iot_bind_contacts
from calls.selectors.clients import device_get_for_client, student_get_for_client
from calls.services.call_events import EVENT_NAMES, CallEvent, call_event_ingest
from core.fields import JSONObjectField, StrictCharField
from core.throttling import DeviceRateThrottle
from core.wechat.views import WeChatCompatibleApi, wechat_response, wechat_responses, wechat_schema
from schools.authentication import AccessTokenAuthentication, IsApiClient
from schools.selectors import EVENTS_PAGE_MAX, event_payload, events_page

OPENID_LIST_MAX = 100


class DeviceApi(WeChatCompatibleApi):
    """The vendors' device API: an API client (``access_token``) names devices and students of its school."""

    authentication_classes = [AccessTokenAuthentication]
    permission_classes = [IsApiClient]

    def device(self, sn: str, model_id: str):
        return device_get_for_client(client=self.request.user, sn=sn, model_id=model_id)

    def student(self, user_id: str):
        return student_get_for_client(client=self.request.user, user_id=user_id)


class IotBindContactsApi(DeviceApi):
    """``POST /api/v1/device/iot-bind-contacts`` ``{sn, model_id, openid_list, user_id?}`` (≤ 100 openids).

    → ``{errcode: 0, errmsg: "ok", contact_list: [{open_id, sn, model_id, status}]}`` like the plugin's
    getIotBindContactList (seed 000 §4.2). Hardware mode: status 1 when the openid authorized the
    device or its group. Face-pay mode (seed 003 §1): status 1 when the openid is a contact of the
    student ``user_id`` (required, 47001 naming it otherwise) with scope.voip granted. Three queries
    in all for a hardware device (access token, device, the openids with their authorizations).
    """

    class IotBindContactsInputSerializer(serializers.Serializer):
        sn = StrictCharField(max_length=128)
        model_id = StrictCharField(max_length=64)
        user_id = StrictCharField(max_length=128, required=False)
        openid_list = serializers.ListField(
            child=StrictCharField(max_length=128), max_length=OPENID_LIST_MAX, allow_empty=False
        )

    @extend_schema(
        request=IotBindContactsInputSerializer,
        responses=wechat_responses(
            wechat_schema(
                "IotBindContactList",
                {
                    "contact_list": inline_serializer(
                        "IotBindContact",
                        {
                            "open_id": serializers.CharField(),
                            "sn": serializers.CharField(),
                            "model_id": serializers.CharField(),
                            "status": serializers.IntegerField(),
                        },
                        many=True,
                    ),
                },
            ),
            400,
            401,
            404,
        ),
        tags=["device"],
    )
    def post(self, request):
        data = self.IotBindContactsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        device = self.device(v["sn"], v["model_id"])
        student = self.student(v["user_id"]) if "user_id" in v else None
        return wechat_response(
            contact_list=iot_bind_contacts(device=device, openid_list=v["openid_list"], student=student)
        )


CHECK_RESPONSE = inline_serializer(
    "CallCheck",
    {
        "errcode": serializers.IntegerField(
            help_text="0 may call. Face-pay mode: 8 no scope.voip, 9 not a contact of the student. Hardware mode: "
            "9 device or group not authorized, 9300007 not a contact of the student (when the school requires "
            "it). Both: 9300003 device and student of different schools; 9300004 outside calling windows; "
            "9300005 daily minutes used up; 9300006 same parent called too recently. 9300001 unknown device "
            "and 9300002 unknown student answer 404."
        ),
        "errmsg": serializers.CharField(),
        "time_limit": serializers.IntegerField(help_text="initByCaller timeLimit, seconds"),
        "business_type": serializers.IntegerField(help_text="initByCaller businessType: 0 or 3 face-pay, 1 hardware"),
        "camera_status": serializers.IntegerField(help_text="0 camera on, 1 off"),
        "miniprogram_state": serializers.CharField(
            help_text="initByCaller miniprogramState: formal, trial or developer (FAQ 3.5)"
        ),
    },
)


class CallCheckApi(DeviceApi):
    """``POST /api/v1/device/calls/check`` ``{sn, model_id, user_id, openid, room_type}``.

    The checks ``initByCaller`` would fail, run before dialling, by the device's call mode →
    ``{errcode, errmsg, time_limit, business_type, camera_status, miniprogram_state}`` (HTTP 200 for
    every check result; 404 for an unknown device or student). Six queries in all, whatever the
    number of contacts or devices: access token (cached after the first request), device, student
    with its policy, the parent with contact and authorization, calling windows, today's calls.
    """

    throttle_classes = [DeviceRateThrottle]  # per API client and device (core.throttling)
    throttle_scope = "device_check"

    class CallCheckInputSerializer(serializers.Serializer):
        sn = StrictCharField(max_length=128)
        model_id = StrictCharField(max_length=64)
        user_id = StrictCharField(max_length=128)
        openid = StrictCharField(max_length=128)
        room_type = serializers.ChoiceField(choices=RoomType.choices, default=RoomType.VOICE)

    @extend_schema(
        request=CallCheckInputSerializer,
        responses=wechat_responses(CHECK_RESPONSE, 400, 401, 404),
        tags=["device"],
    )
    def post(self, request):
        data = self.CallCheckInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        device = self.device(v["sn"], v["model_id"])
        student = self.student(v["user_id"])
        result = call_check(device=device, student=student, openid=v["openid"])
        policy = result.policy
        return wechat_response(
            result.errcode,
            time_limit=result.time_limit,
            business_type=result.business_type,
            camera_status=policy.camera_status if policy else 0,
            miniprogram_state=student.school.miniprogram_state,
        )


class CallPlanApi(DeviceApi):
    """``GET /api/v1/device/students/{user_id}/call-plan?sn=&model_id=`` — round-robin calling (FAQ 1.5).

    → ``{errcode, errmsg, user_id, time_limit, business_type, camera_status, miniprogram_state,
    ring_timeout, contact_list: [{open_id, role, relation, ring_timeout}]}``: the contacts this
    device may call now by its call mode, in order; ``ring_timeout`` in seconds (≤ 60). Six queries
    in all: access token (cached after the first request), device, student with its policy, calling
    windows, today's calls, contacts.
    """

    throttle_classes = [DeviceRateThrottle]  # per API client and device (core.throttling)
    throttle_scope = "device_check"

    class CallPlanQuerySerializer(serializers.Serializer):
        sn = StrictCharField(max_length=128)
        model_id = StrictCharField(max_length=64)

    @extend_schema(
        parameters=[CallPlanQuerySerializer],
        responses=wechat_responses(
            wechat_schema(
                "CallPlan",
                {
                    "user_id": serializers.CharField(),
                    "time_limit": serializers.IntegerField(),
                    "business_type": serializers.IntegerField(),
                    "camera_status": serializers.IntegerField(),
                    "miniprogram_state": serializers.CharField(),
                    "ring_timeout": serializers.IntegerField(),
                    "contact_list": inline_serializer(
                        "CallPlanContact",
                        {
                            "open_id": serializers.CharField(),
                            "role": serializers.IntegerField(),
                            "relation": serializers.CharField(),
                            "ring_timeout": serializers.IntegerField(),
                        },
                        many=True,
                    ),
                },
            ),
            400,
            401,
            404,
        ),
        tags=["device"],
    )
    def get(self, request, user_id):
        query = self.CallPlanQuerySerializer(data=request.query_params.dict())  # 400 (47001) names a bad one
        query.is_valid(raise_exception=True)
        device = self.device(query.validated_data["sn"], query.validated_data["model_id"])
        student = self.student(user_id)
        plan = call_plan(device=device, student=student)
        policy = plan.policy
        return wechat_response(
            plan.errcode,
            user_id=student.user_id,
            time_limit=plan.time_limit,
            business_type=plan.business_type,
            camera_status=policy.camera_status,
            miniprogram_state=policy.miniprogram_state,
            ring_timeout=policy.ring_timeout,
            contact_list=[
                {
                    "open_id": c.parent.openid,
                    "role": c.role,
                    "relation": c.relation,
                    "ring_timeout": policy.ring_timeout,
                }
                for c in plan.contacts
            ],
        )


class CallEventApi(DeviceApi):
    """``POST /api/v1/device/calls/events`` — the plugin's ``onVoipEvent`` events (REFERENCE.md §4).

    Body ``{roomId, eventName, sn, model_id, user_id, openid, roomType, businessType, data}``; ``data``
    as the plugin gives it (``keepTime`` seconds, ``status``, ``origin`` …). The portal's own
    ``initByCallerFail`` (data ``{errCode, errMsg}``) reports a call initByCaller refused; errCode 9
    marks the parent's authorization stale. → ``{errcode: 0, errmsg: "ok", roomId, outcome,
    keep_time, billed_seconds}``. Idempotent; order-independent. 400 (47001) for an unknown
    eventName or negative keepTime, 404 for an unknown device or student, 409 for a roomId of another call.
    """

    class CallEventInputSerializer(serializers.Serializer):
        # WeChat's names at the boundary, snake_case inside (``CallEvent``).
        roomId = StrictCharField(max_length=128, source="room_id")  # noqa: N815
        eventName = serializers.ChoiceField(choices=EVENT_NAMES, source="event_name")  # noqa: N815
        sn = StrictCharField(max_length=128)
        model_id = StrictCharField(max_length=64)
        user_id = StrictCharField(max_length=128)
        openid = StrictCharField(max_length=128)
        roomType = serializers.ChoiceField(choices=RoomType.choices, default=RoomType.VOICE, source="room_type")  # noqa: N815
        businessType = serializers.ChoiceField(choices=BusinessType.values, required=False, source="business_type")  # noqa: N815
        data = JSONObjectField(required=False, default=dict)

    @extend_schema(
        request=CallEventInputSerializer,
        responses=wechat_responses(
            wechat_schema(
                "CallEventAck",
                {
                    "roomId": serializers.CharField(),
                    "outcome": serializers.CharField(),
                    "keep_time": serializers.IntegerField(),
                    "billed_seconds": serializers.IntegerField(allow_null=True),
                },
            ),
            400,
            401,
            404,
            409,
        ),
        tags=["device"],
    )
    def post(self, request):
        data = self.CallEventInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        record = call_event_ingest(client=request.user, event=CallEvent(**data.validated_data))
        return wechat_response(
            roomId=record.room_id,
            outcome=record.outcome,
            keep_time=record.keep_time,
            billed_seconds=record.billed_seconds,
        )


EVENT_SCHEMA = inline_serializer(
    "PortalEvent",
    {
        "event_id": serializers.UUIDField(help_text="unique; the receiver's idempotency key"),
        "type": serializers.CharField(
            help_text="bindContact, contact.changed, student.deactivated, call.finished, call.billed"
        ),
        "school": serializers.IntegerField(),
        "created_at": serializers.DateTimeField(),
        "data": serializers.DictField(help_text="the type's own shape (README: Events)"),
    },
    many=True,
)


class EventsApi(DeviceApi):
    """``GET /api/v1/device/events?cursor=&limit=`` — the webhook events, for vendors who cannot receive them.

    The events of the client's schools after ``cursor`` (a position; 0 or absent from the start), in
    commit order, at most ``limit`` (1 … 500, default 100) → ``{errcode: 0, errmsg: "ok", events:
    [{event_id, type, school, created_at, data}], next_cursor, has_more}``; pass ``next_cursor`` next
    time. The same events, bodies and ids as the webhooks (``schools.selectors.event_payload``), so
    a vendor may use both and dedupe by ``event_id``. 400 (47001) names a bad ``cursor`` or ``limit``.
    """

    class EventsQuerySerializer(serializers.Serializer):
        cursor = serializers.IntegerField(min_value=0, max_value=2**63 - 1, default=0)
        limit = serializers.IntegerField(min_value=1, max_value=EVENTS_PAGE_MAX, default=100)

    @extend_schema(
        parameters=[EventsQuerySerializer],
        responses=wechat_responses(
            wechat_schema(
                "EventsPage",
                {
                    "events": EVENT_SCHEMA,
                    "next_cursor": serializers.IntegerField(help_text="pass as cursor next time"),
                    "has_more": serializers.BooleanField(),
                },
            ),
            400,
            401,
        ),
        tags=["device"],
    )
    def get(self, request):
        # A plain dict: DRF would read an empty ?cursor= of a QueryDict as absent (HTML forms), not as malformed.
        query = self.EventsQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        events, next_cursor, has_more = events_page(client=request.user, **query.validated_data)
        return wechat_response(
            events=[event_payload(event) for event in events], next_cursor=next_cursor, has_more=has_more
        )
