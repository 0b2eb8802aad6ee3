"""Every errcode the portal answers or reads, with its errmsg (REFERENCE.md §4, §5; seed 003 §2.2).

WeChat's own codes keep WeChat's meaning; the ``93000xx`` codes are the portal's, for answers
WeChat has no code for (they are documented in the OpenAPI schema of the device API).
Vendors' code is written against WeChat, whose errmsg texts are English: so are these.
"""

from enum import IntEnum


class ErrCode(IntEnum):
    """An errcode and its errmsg: ``ErrCode.INVALID_APPID.errmsg == "invalid appid"``."""

    errmsg: str

    def __new__(cls, value: int, errmsg: str):
        member = int.__new__(cls, value)
        member._value_ = value
        member.errmsg = errmsg
        return member

    # WeChat's generic answers (REFERENCE.md §5)
    OK = 0, "ok"
    BUSY = -1, "system busy"
    # seed 003 §2.2: getvoipcontactlist
    NO_CONTACT_LIST = 1, "user has no contact list"
    # initByCaller call errCodes (REFERENCE.md §4)
    NO_SCOPE = 8, "openid has not granted scope.voip"
    NOT_AUTHORIZED = 9, "listener is not a contact of the user_id or has not authorized the device"
    # credentials (REFERENCE.md §5)
    INVALID_CREDENTIAL = 40001, "invalid credential, access_token is invalid or not latest"
    INVALID_GRANT_TYPE = 40002, "invalid grant_type: must be client_credential"
    NOT_FOUND = 40004, "not found"
    INVALID_APPID = 40013, "invalid appid"
    INVALID_CODE = 40029, "invalid code"
    CODE_USED = 40163, "code been used"
    TOKEN_MISSING = 41001, "access_token missing"
    APPID_MISSING = 41002, "appid missing"
    SECRET_MISSING = 41004, "secret missing"
    TOKEN_EXPIRED = 42001, "access_token expired"
    FREQ_LIMIT = 45009, "api freq out of limit"  # the portal's abuse limits on WeChat-compatible endpoints
    RATE_LIMITED = 45011, "api minute-quota reach limit"
    BAD_DATA = 47001, "data format error"
    API_UNAUTHORIZED = 48001, "api unauthorized"  # FAQ 3.2: no hardware-device access
    # getsnticket (REFERENCE.md §5)
    SN_TOO_LONG = 9800001, "sn longer than 128 bytes"
    SN_BAD_CHARS = 9800002, "sn has characters outside [0-9A-Za-z_-]"
    MODEL_ID_INVALID = 9800003, "model_id check failed"
    # device groups (REFERENCE.md §5)
    GROUP_NAME_INVALID = 9800012, "group_name must be 1-32 bytes"
    GROUP_ID_INVALID = 9800013, "invalid group_id"
    GROUP_TYPE_MISMATCH = 9800014, "the device's type differs from the group's"
    GROUP_DEVICE_IN_ANOTHER = 9800015, "the device is in another group"
    GROUP_FULL = 9800016, "the group is full"
    GROUP_DEVICE_NOT_IN = 9800017, "the device is not in the group"
    # mini-program codes
    SCENE_INVALID = 40169, "invalid length for scene"
    PAGE_NOT_PUBLISHED = 41030, "invalid page: not published"
    # the portal's own (device API)
    UNKNOWN_DEVICE = 9300001, "unknown or inactive device (sn, model_id)"
    UNKNOWN_STUDENT = 9300002, "unknown or inactive student (user_id)"
    OTHER_SCHOOL = 9300003, "the device and the student belong to different schools"
    OUTSIDE_WINDOW = 9300004, "outside the school's calling windows"
    DAILY_MINUTES_USED = 9300005, "the student's daily minutes are used up"
    REPEAT_CALL = 9300006, "the same parent was called too recently"
    NOT_A_CONTACT = 9300007, "the school lets this hardware-mode device call bound contacts of the student only"
    CONFLICT = 9300009, "the request conflicts with what is recorded"


# WeChat reads these as "this access_token is no good": drop it, fetch another, retry once.
TOKEN_ERRCODES = frozenset({ErrCode.INVALID_CREDENTIAL, ErrCode.TOKEN_EXPIRED})


def envelope(errcode: int, errmsg: str | None = None, **data) -> dict:
    """WeChat's answer body ``{"errcode": int, "errmsg": str, **data}``; errmsg defaults to the code's."""
    if errmsg is None:
        errmsg = ErrCode(errcode).errmsg
    return {"errcode": int(errcode), "errmsg": errmsg, **data}
