"""Mini-program codes of the admin-binding page: one scene per student, and WeChat's images of it.

A claim-code letter (and a class poster) carries a mini-program code made by WeChat's
``POST /wxa/getwxacodeunlimit`` (REFERENCE.md §5; WeChat's getUnlimitedQRCode). Scanned in WeChat,
it opens the admin-binding page (``settings.ADMIN_BIND_PAGE_PATH``) with the code's ``scene`` in the
page's launch options; the page asks ``GET /api/v1/scenes/{scene}`` which student that is
(``contacts.selectors.scenes``). WeChat's ``page`` takes no query string and ``scene`` at most 32
visible characters, so a student travels as its scene: 12 random letters and digits (≈ 71 bits).

A student keeps its scene for good: reissuing a claim code does not rotate it. The scene only opens
the page and names the student, as the printed letter itself does; the secret is the claim code,
and reissuing revokes that (``contacts.services.claim_codes``). An old letter's code still opens
the page; its old claim code no longer binds.

WeChat's codes never expire, so each image is fetched once and kept (``MiniProgramCode``, per scene,
page and ``env_version``). With ``WECHAT_SANDBOX`` (local development, no WeChat) a plain QR code of
the same page and scene is drawn locally instead: no WeChat call, and never kept.
"""

import io
import secrets
import string

import segno
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from contacts.mini_program import admin_bind_page
from contacts.models import MiniProgramCode, MiniProgramEnvVersion, MiniProgramScene
from core.errors import ApplicationError, Conflict, UpstreamError, UpstreamUnavailable
from core.wechat.client import WeChatClient, WeChatError, WeChatUnavailable
from core.wechat.errcodes import ErrCode
from schools.models import MiniprogramState, School, Student
from schools.tenancy import SYSTEM, staff_check

SCENE_ALPHABET = string.ascii_letters + string.digits  # URL-safe and within WeChat's scene characters
SCENE_LENGTH = 12  # 62**12 ≈ 2**71.4 scenes; WeChat allows 32 characters
SCENE_ATTEMPTS = 3  # rounds of creating scenes before giving up (a clash of random codes is ~2**-71)
SANDBOX_QR_SCALE = 8  # pixels per module of the sandbox's local QR code

# initByCaller's miniprogramState of the school (FAQ 3.5) → getwxacodeunlimit's env_version.
ENV_VERSIONS = {
    MiniprogramState.FORMAL: MiniProgramEnvVersion.RELEASE,
    MiniprogramState.TRIAL: MiniProgramEnvVersion.TRIAL,
    MiniprogramState.DEVELOPER: MiniProgramEnvVersion.DEVELOP,
}


def mini_program_scene_new() -> str:
    """A random scene: ``SCENE_LENGTH`` (12) symbols of ``SCENE_ALPHABET`` (letters and digits)."""
    return "".join(secrets.choice(SCENE_ALPHABET) for _ in range(SCENE_LENGTH))


@transaction.atomic
def mini_program_scenes_ensure(*, students) -> dict[int, MiniProgramScene]:
    """The scene of each of ``students`` (Student rows; duplicates dropped): ``{student.pk: scene}``.

    Students without one get a new scene (``mini_program_scene_new``), in one transaction; a scene
    another request created at the same time is taken as it is (``ON CONFLICT DO NOTHING``, then
    read back). Each ``scene.student`` is the row given, school included if it was loaded. Raises
    ``Conflict`` only if fresh random codes clashed ``SCENE_ATTEMPTS`` times in a row.
    """
    given = {student.pk: student for student in students}
    for attempt in range(SCENE_ATTEMPTS + 1):
        scenes = {scene.student_id: scene for scene in MiniProgramScene.objects.filter(student_id__in=list(given))}
        missing = [pk for pk in given if pk not in scenes]
        if not missing:
            break
        if attempt == SCENE_ATTEMPTS:
            raise Conflict(_("Could not create the students' mini-program scenes; try again."))
        MiniProgramScene.objects.bulk_create(
            [MiniProgramScene(student_id=pk, code=mini_program_scene_new()) for pk in missing], ignore_conflicts=True
        )
    for pk, scene in scenes.items():
        scene.student = given[pk]
    return {pk: scenes[pk] for pk in given}


def wxacode_env_version(school: School) -> str:
    """The ``env_version`` a school's codes open: formal → ``release``, trial → ``trial``,
    developer → ``develop`` (``School.miniprogram_state``)."""
    return ENV_VERSIONS[school.miniprogram_state]


def _wxacode_sandbox(*, scene: str, page: str) -> bytes:
    """A plain QR code (PNG) of ``page?scene=``: what the sandbox prints instead of WeChat's code."""
    out = io.BytesIO()
    segno.make_qr(f"{page}?scene={scene}", error="m").save(out, kind="png", scale=SANDBOX_QR_SCALE, border=2)
    return out.getvalue()


def _wxacode_fetch(client: WeChatClient, *, scene: str, page: str, env_version: str) -> bytes:
    """One code from WeChat, its errors as the portal's (see ``wxacodes_get``)."""
    try:
        # WeChat checks a page against the released mini-program only (check_path); a trial or
        # developer version may have pages the released one has not.
        return client.get_wxacode_unlimited(
            scene=scene,
            page=page,
            env_version=env_version,
            check_path=env_version == MiniProgramEnvVersion.RELEASE,
        )
    except WeChatUnavailable as exc:
        raise UpstreamUnavailable() from exc
    except WeChatError as exc:
        if exc.errcode == ErrCode.SCENE_INVALID:
            raise ApplicationError(
                _("WeChat refuses the mini-program code's scene %(scene)s (errcode 40169).") % {"scene": scene},
                field="scene",
                errcode=exc.errcode,
            ) from exc
        if exc.errcode == ErrCode.PAGE_NOT_PUBLISHED:
            raise ApplicationError(
                _(
                    "WeChat refuses the page %(page)s: the released mini-program has no such page (errcode 41030). "
                    "Release the mini-program with this page, check ADMIN_BIND_PAGE_PATH, or set the school's "
                    "mini-program version to trial or developer while testing."
                )
                % {"page": page},
                field="page",
                errcode=exc.errcode,
            ) from exc
        raise UpstreamError(
            _("WeChat refuses to make the mini-program code (errcode %(errcode)s: %(errmsg)s).")
            % {"errcode": exc.errcode, "errmsg": exc.errmsg},
            errcode=exc.errcode,
        ) from exc


def wxacodes_get(*, scenes: list[MiniProgramScene], page: str) -> dict[str, bytes]:
    """The image of each scene's mini-program code opening ``page``: ``{scene.code: image bytes}``.

    ``page``: the mini-program page as getwxacodeunlimit wants it, e.g. ``pages/bind-admin/index``
    (no leading ``/``, no query). Each code opens the version of the mini-program its student's
    school uses (``wxacode_env_version``; ``scene.student.school`` should be loaded), and asks
    WeChat to check the page (``check_path``) for the released version only.

    The images kept from earlier calls are read in one query; the others come from WeChat
    (``POST /wxa/getwxacodeunlimit``, REFERENCE.md §5), one call per scene, each kept as it arrives
    (so a failed batch resumes where it stopped). WeChat answers PNG or JPEG; the bytes are kept as
    they came. With ``WECHAT_SANDBOX`` the missing ones are local PNG QR codes of ``page?scene=``:
    no WeChat call, nothing kept.

    Raises ``ApplicationError`` naming ``scene`` (40169) or ``page`` (41030), ``UpstreamError`` for
    another refusal of WeChat, ``UpstreamUnavailable`` when WeChat is busy or unreachable.
    """
    wanted = {scene.code: (scene, wxacode_env_version(scene.student.school)) for scene in scenes}
    kept = {
        (scene_id, env_version): bytes(image)
        for scene_id, env_version, image in MiniProgramCode.objects.filter(
            scene__in=[scene for scene, _env in wanted.values()], page=page
        ).values_list("scene_id", "env_version", "image")
    }
    images: dict[str, bytes] = {}
    client = None
    for code, (scene, env_version) in wanted.items():
        image = kept.get((scene.pk, env_version))
        if image is None and settings.WECHAT_SANDBOX:
            image = _wxacode_sandbox(scene=code, page=page)
        elif image is None:
            client = client or WeChatClient.from_settings()
            image = _wxacode_fetch(client, scene=code, page=page, env_version=env_version)
            MiniProgramCode.objects.bulk_create(
                [MiniProgramCode(scene=scene, page=page, env_version=env_version, image=image)],
                ignore_conflicts=True,  # another request kept the same code meanwhile: WeChat's codes are alike
            )
        images[code] = image
    return images


def wxacode_get(*, scene: MiniProgramScene, page: str) -> bytes:
    """The image of one scene's mini-program code opening ``page`` (``wxacodes_get`` for one scene)."""
    return wxacodes_get(scenes=[scene], page=page)[scene.code]


def admin_bind_wxacodes_get(*, students: list[Student], actor_user=SYSTEM) -> dict[int, bytes]:
    """The admin-binding page's mini-program code of each of ``students``: ``{student.pk: image bytes}``.

    ``students``: Student rows with their school loaded (``select_related("school")``). Scenes are
    created for students without one first (``mini_program_scenes_ensure``, committed on its own:
    a scene is harmless and reused when the images fail), then every image is fetched or read
    (``wxacodes_get``, its errors). One call per batch of letters or posters: each student's code
    is asked for once. ``staff_check`` of ``actor_user`` (it creates scenes) for every student's
    school.
    """
    staff_check(actor_user, school_ids={student.school_id for student in students})
    scenes = mini_program_scenes_ensure(students=students)
    images = wxacodes_get(scenes=list(scenes.values()), page=admin_bind_page())
    return {pk: images[scene.code] for pk, scene in scenes.items()}
