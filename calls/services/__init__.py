"""Writes of the calls app, one module per concern.

``authorizations`` (what parents' mini-programs reported of devices and groups), ``call_events``
(call records from the plugin's events), ``sn_tickets`` (the snTicket of the authorization dialog).
Each service is one transaction.
"""
