from django.urls import path

from . import apis, apis_device
from .apis_sn_ticket import SnTicketApi

urlpatterns = [
    # Parents' mini-program (bearer token)
    path("devices/<str:sn>/sn-ticket", SnTicketApi.as_view(), name="sn-ticket"),
    path("device-authorizations", apis.DeviceAuthorizationApi.as_view(), name="device-authorizations"),
    path("students/<str:user_id>/calls", apis.CallHistoryApi.as_view(), name="call-history"),
    # Device vendors (access_token)
    path("device/iot-bind-contacts", apis_device.IotBindContactsApi.as_view(), name="device-iot-bind-contacts"),
    path("device/calls/check", apis_device.CallCheckApi.as_view(), name="device-call-check"),
    path("device/calls/events", apis_device.CallEventApi.as_view(), name="device-call-events"),
    path("device/students/<str:user_id>/call-plan", apis_device.CallPlanApi.as_view(), name="device-call-plan"),
]
