"""How staff pages name a contact: by the student and the relation (王子涵的妈妈), never by openid.

A parent is a WeChat user; to a school it is somebody's mother or grandfather. ``contact_name`` is
the one wording, used by ``Contact.__str__`` and every admin column that names a contact or a
parent next to a student; an openid shown beside it is masked (``core.masking.mask_openid``).
"""

from django.utils.translation import gettext


def contact_name(*, student_name: str, relation: str) -> str:
    """``王子涵的妈妈``; without a relation ``王子涵的家长`` (a parent of the student)."""
    if relation:
        return gettext("%(student)s's %(relation)s") % {"student": student_name, "relation": relation}
    return gettext("%(student)s's parent") % {"student": student_name}
