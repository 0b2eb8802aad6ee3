"""The lower layer: what every app imports, and nothing of any app.

``errors`` (domain errors), ``exceptions`` (the one API exception handler), ``fields``,
``parsers``, ``tokens`` (random secrets and their digests), ``validators`` (WeChat's field
shapes), ``local_time`` (the school's day, from ``TIME_ZONE``), ``admin`` (generic admin
mixins), ``nonces`` (one-time form tokens), and ``wechat`` (the whole WeChat protocol:
errcodes, the outbound client, the WeChat-compatible base view and access_token
authentication). Imports run ``portal → calls → contacts → schools → core``; ``core`` imports
none of them (``.importlinter``).
"""
