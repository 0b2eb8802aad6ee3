"""Writes of the schools app, one module per concern.

``audit`` (the audit row every change writes), ``api_clients`` (vendors' credentials, grants and
access tokens), ``device_groups`` (device groups and their membership, through WeChat).
"""
