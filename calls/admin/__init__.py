"""The calls app's admin, one module per concern (registered on import).

``policy`` (call policy, students' exceptions, calling windows), ``authorizations``, ``calls``
(call records), ``usage`` (usage per day), ``filters``. Every admin is a ``SchoolScopedAdmin``:
staff see their own school only. What devices and mini-programs reported is read-only.
"""

from calls.admin import authorizations, calls, policy, usage  # noqa: F401  (registers)
