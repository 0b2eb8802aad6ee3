"""The calls app's admin, one module per concern (registered on import).

``policy`` (call policy, students' exceptions, calling windows), ``authorizations``, ``calls``
(call records), ``usage`` (usage per day), ``failures`` (initByCaller errCodes per day and device),
``filters``, ``invariants`` (the invariant checks' reports: platform superusers only). Every other
admin is a ``SchoolScopedAdmin``: staff see their own school only. What devices and mini-programs
reported is read-only.
"""

from calls.admin import authorizations, calls, devices, failures, invariants, policy, usage  # noqa: F401  (registers)
