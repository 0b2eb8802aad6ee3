"""snTicket for the device authorization dialog (``wx.requestDeviceVoIP``, seed 000 §1).

The mini-program needs a ticket from WeChat (``getsnticket``, REFERENCE.md §5, valid 5 minutes)
and the device name the dialog shows. Only devices of the parent's schools are served: a parent
is of a school when it is a contact of an active student there.
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from calls.services.authorizations import FACE_PAY_NOT_AUTHORIZED
from contacts.models import Parent
from contacts.selectors.contacts import parent_school_ids
from core.errors import ApplicationError, NotFound, UpstreamError, UpstreamUnavailable
from core.validators import is_sn
from core.wechat.client import WeChatClient, WeChatError, WeChatUnavailable
from core.wechat.errcodes import ErrCode
from schools.models import CallMode, Device


@dataclass(frozen=True)
class SnTicket:
    """What ``wx.requestDeviceVoIP`` takes (``sn``, ``snTicket``, ``modelId``, ``deviceName``) and
    what its dialog shows."""

    sn_ticket: str
    sn: str
    model_id: str
    device_name: str  # deviceName to pass: the bare name, ≤ 13 characters (REFERENCE.md §1)
    display_name: str  # what the dialog shows: deviceName + device type, WeChat appends the type (seed 000 §1)


def device_for_parent(*, parent: Parent, sn: str, model_id: str) -> Device:
    """The active device ``(sn, model_id)`` of an active school of ``parent`` (``parent_school_ids``).

    Raises ``NotFound`` (field ``sn``) otherwise: unknown, inactive and another school's devices
    answer alike. One query (none for an ``sn`` WeChat would refuse).
    """
    device = None
    if is_sn(sn) and "\x00" not in model_id:
        device = (
            Device.objects.active()
            .filter(sn=sn, model_id=model_id)
            .filter(school_id__in=parent_school_ids(parent=parent))
            .first()
        )
    if device is None:
        raise NotFound(_("No such device at your schools."), field="sn")
    return device


def sn_ticket_issue(*, parent: Parent, sn: str, model_id: str) -> SnTicket:
    """A fresh snTicket from WeChat for a device of the parent's schools (REFERENCE.md §5).

    ``NotFound`` (``sn``) and, for a face-pay phone, ``ApplicationError`` (``sn``) before WeChat is
    asked; then WeChat's errors: 9800001/9800002 → 400 on
    ``sn``, 9800003 → 400 on ``model_id``, 48001 (api unauthorized, FAQ 3.2) → 502
    ``wechat_api_unauthorized``, any other refusal → 502, busy/unreachable/timeout → 503.
    """
    device = device_for_parent(parent=parent, sn=sn, model_id=model_id)
    if device.call_mode == CallMode.FACE_PAY:
        raise ApplicationError(FACE_PAY_NOT_AUTHORIZED, field="sn")
    try:
        ticket = WeChatClient.from_settings().get_sn_ticket(device.sn, device.model_id)
    except WeChatUnavailable as exc:
        raise UpstreamUnavailable() from exc
    except WeChatError as exc:
        raise _sn_ticket_error(exc) from exc
    return SnTicket(
        sn_ticket=ticket,
        sn=device.sn,
        model_id=device.model_id,
        device_name=device.device_name,
        display_name=device.display_name,
    )


def _sn_ticket_error(exc: WeChatError) -> ApplicationError:
    if exc.errcode == ErrCode.SN_TOO_LONG:
        return ApplicationError(_("WeChat refuses this sn: longer than 128 bytes (errcode 9800001)."), field="sn")
    if exc.errcode == ErrCode.SN_BAD_CHARS:
        return ApplicationError(
            _("WeChat refuses this sn: only 0-9, A-Z, a-z, '_' and '-' are allowed (errcode 9800002)."), field="sn"
        )
    if exc.errcode == ErrCode.MODEL_ID_INVALID:
        return ApplicationError(
            _("WeChat refuses this model_id: the check failed (errcode 9800003)."), field="model_id"
        )
    if exc.errcode == ErrCode.API_UNAUTHORIZED:
        return UpstreamError(
            _(
                "The mini-program has no hardware-device access (WeChat errcode 48001, api unauthorized): "
                "complete hardware device access (硬件设备接入) for this appid in the mini-program admin "
                "console, and use an access_token of that appid (FAQ 3.2)."
            ),
            code="wechat_api_unauthorized",
        )
    return UpstreamError(
        _("WeChat refused the snTicket request (errcode %(errcode)s: %(errmsg)s).")
        % {"errcode": exc.errcode, "errmsg": exc.errmsg}
    )
