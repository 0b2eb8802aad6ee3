"""REST API of the parents' mini-program (``/api/v1/``) and the vendors' contact list: thin views,
one service or selector call each.

``parents`` (login, logout, scope.voip, my students), ``binding`` (admin binding, share links),
``contacts`` (contact list, deletion, admin transfer, unbinding, call order), ``wechat``
(WeChat-compatible getvoipcontactlist). Parent views authenticate by bearer token
(``contacts.authentication``); errors follow ``core.exceptions`` (``{detail, code, field?}``).
"""
