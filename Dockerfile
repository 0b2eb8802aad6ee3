# The portal's production image: web (gunicorn), worker and beat run from it (compose.yaml).
#   docker build -t school-voip-portal .
# Slim Python 3.11, runtime dependencies only, static files collected and translations compiled at
# build, runs as an unprivileged user. Configuration comes from the environment only
# (portal.settings.production: SECRET_KEY, DATABASE_URL, CELERY_BROKER_URL, CACHE_URL, …).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=portal.settings.production \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv
COPY requirements-runtime.txt /tmp/requirements-runtime.txt
RUN pip install -r /tmp/requirements-runtime.txt && rm /tmp/requirements-runtime.txt

WORKDIR /app
COPY . /app

# collectstatic and the translations need settings, not servers: placeholders that nothing contacts.
RUN SECRET_KEY=build-only DATABASE_URL=postgres://build@localhost/build CELERY_BROKER_URL=redis://localhost:6379/0 \
        CACHE_URL=rediscache://localhost:6379/1 \
        sh -c 'python manage.py compile_translations && python manage.py collectstatic --no-input -v0' \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin portal \
    && mkdir -p /app/var && chown portal /app/var

USER portal
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('PORT', '8000'), timeout=4)"]
CMD ["gunicorn", "--config=deploy/gunicorn.conf.py", "portal.wsgi:application"]
