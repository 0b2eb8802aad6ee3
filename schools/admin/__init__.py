"""The schools app's admin, one module per concern (registered on import).

``scoping`` (tenant scoping of every admin, inline and filter), ``roster`` (import and export),
``schools``, ``devices``, ``students`` (extended by ``contacts.admin.students``),
``api_clients``, ``records`` (audit records, import jobs), ``webhooks`` (receivers, events,
deliveries), ``platform`` (superuser-only admins).
"""

from schools.admin import api_clients, devices, platform, records, schools, students, webhooks  # noqa: F401  (registers)
