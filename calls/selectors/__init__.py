"""Reads of the calls app, one module per concern.

``clients`` (the devices and students a vendor's API client may name), ``policy`` (the policy
that applies to a student, calling windows, today's usage), ``checks`` (pre-call check, call
plan, getIotBindContactList), ``history`` (a parent's authorizations and call history),
``reports`` (usage per day), ``dashboard`` (the staff dashboard's call numbers). Each read a
device makes runs a fixed number of queries whatever the number of contacts, devices or
openids (pinned in ``calls/tests/selectors``).
"""
