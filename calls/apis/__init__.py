"""APIs of the calls app: the parents' mini-program (``authorizations``, ``history``, ``sn_tickets``,
bearer token) and the device vendors' server-to-server API (``device``, ``access_token``)."""
