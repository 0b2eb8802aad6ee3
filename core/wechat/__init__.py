"""WeChat's protocol, in one place (REFERENCE.md §4, §5; seed 000, seed 003).

- ``errcodes``: every errcode the portal answers or receives, with its errmsg, and the
  ``{errcode, errmsg}`` envelope.
- ``client``: the portal's client of WeChat's server API (jscode2session, access_token, getsnticket).
- ``views``: the base view of WeChat-compatible endpoints and their answers.
- ``authentication``: ``?access_token=`` authentication of the WeChat-compatible API.
"""
