"""Writes of the contacts app, one module per concern (HackSoft's ``services/`` package).

- ``parents``: login (jscode2session), bearer tokens, scope.voip.
- ``bind_events``: the bindContact events every binding outcome records (seed 003 §2.5).
- ``claim_codes``: the codes on the students' letters that admin binding may require.
- ``binding``: bindVoipAdminContact and binding through a share link (seed 003 §2.1).
- ``share_links``: getBindContactPath, expiry, revocation.
- ``contacts``: deleteVoipBindContact, transerAdmin, unbinding oneself, the call order.
- ``staff``: what school staff do for parents who cannot (with a reason, audited).
- ``students``: deactivating students (staff, roster import).

Each service is one transaction, takes the student row lock (``contacts.locks``) before it
changes a student's contacts, and writes its audit row (``schools.AuditLog``) inside it.
"""
