"""The contacts app's admin, one module per concern (registered on import).

``students`` (extends the student's page of ``schools.admin``), ``staff_actions``,
``claim_codes``, ``mini_program_codes`` (class posters, scenes, kept code images), ``parents``,
``records`` (contacts, share links, bind events), ``wechat`` (differences from WeChat), ``filters``.
"""

from contacts.admin import claim_codes, mini_program_codes, parents, records, students, wechat  # noqa: F401  (registers)
