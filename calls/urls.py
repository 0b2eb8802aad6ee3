from django.urls import path

from calls.apis import authorizations, device, history, sn_tickets

urlpatterns = [
    # Parents' mini-program (bearer token)
    path("devices/<str:sn>/sn-ticket", sn_tickets.SnTicketApi.as_view(), name="sn-ticket"),
    path("device-authorizations", authorizations.DeviceAuthorizationApi.as_view(), name="device-authorizations"),
    path("students/<str:user_id>/calls", history.CallHistoryApi.as_view(), name="call-history"),
    # Device vendors (access_token)
    path("device/iot-bind-contacts", device.IotBindContactsApi.as_view(), name="device-iot-bind-contacts"),
    path("device/calls/check", device.CallCheckApi.as_view(), name="device-call-check"),
    path("device/calls/events", device.CallEventApi.as_view(), name="device-call-events"),
    path("device/events", device.EventsApi.as_view(), name="device-events"),
    path("device/students/<str:user_id>/call-plan", device.CallPlanApi.as_view(), name="device-call-plan"),
]
