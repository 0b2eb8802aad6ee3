"""Settings of the school VoIP portal, one module per environment (cookiecutter-django's layout).

- ``portal.settings.local``: a developer's machine (``manage.py``'s default, ``make run``): DEBUG,
  SQLite, kombu's filesystem broker, a local-memory cache, the WeChat sandbox; reads ``.env``.
- ``portal.settings.production``: a deployment (the default of ``wsgi.py``, ``asgi.py`` and
  ``celery.py``): never reads ``.env``, DEBUG and the sandbox off whatever the environment says,
  refuses to start without its secret key, database, broker and shared cache.
- ``portal.settings.test``: the test suite (``pytest.ini``).

All three build on ``portal.settings.base``, which reads the process environment only.
"""
