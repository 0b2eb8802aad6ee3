"""Mini-program scenes as the admin-binding page brings them back (``contacts.services.mini_program_codes``)."""

import re

from django.utils.translation import gettext_lazy as _

from contacts.models import SCENE_SHAPE
from core.errors import NotFound
from schools.models import Student


def scene_student_get(*, scene: str) -> Student:
    """The active student (of an active school) whose mini-program code carries ``scene``, school loaded.

    What the admin-binding page opened from a letter's code shows before binding. Any parent may
    ask: the scene is printed on the student's letter and only opens the page; binding then follows
    the school's rules (``admin_bind``: the claim code, when the school requires one). Raises
    ``NotFound`` (field ``scene``) for a malformed or unknown scene and for an inactive student or
    school, alike. One query (none for a malformed scene).
    """
    student = None
    if isinstance(scene, str) and re.fullmatch(SCENE_SHAPE, scene):
        student = Student.objects.active().select_related("school").filter(mini_program_scene__code=scene).first()
    if student is None:
        raise NotFound(_("No such mini-program code."), field="scene")
    return student
