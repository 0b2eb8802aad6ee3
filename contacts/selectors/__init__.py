"""Reads of the contacts app. Each takes the acting parent or API client and sees only what it may.

``contacts`` (a parent's own contacts and students, the vendors' contact list), ``share_links``
(a link behind a token), ``dashboard`` (the staff dashboard's numbers about contacts).
"""
