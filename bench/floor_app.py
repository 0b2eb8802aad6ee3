"""The raw-SQL floor of bench/hot_paths.py: a minimal WSGI app running the portal's own SQL.

For ``/<path>/<k>`` it executes, through psycopg on one persistent connection per process, the
statements the portal ran for request ``k`` of that path (captured by bench/hot_paths.py into
``FLOOR_STATEMENTS``, a JSON file ``{path: [[sql, …], …]}``), fetches every row, and answers the
portal's own response body for that request. No framework, no middleware, no ORM: what the same
database work costs under the same gunicorn.
"""

import json
import os

import psycopg

with open(os.environ["FLOOR_STATEMENTS"], encoding="utf-8") as f:
    _PLAN = json.load(f)
_connection = None


def _cursor():
    global _connection
    if _connection is None or _connection.closed:
        _connection = psycopg.connect(os.environ["FLOOR_DATABASE_URL"], autocommit=True)
    return _connection.cursor()


def application(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    _, name, k = environ["PATH_INFO"].split("/", 2)
    entry = _PLAN[name][int(k)]
    with _cursor() as cursor:
        for sql in entry["sql"]:
            cursor.execute(sql.encode())
            if cursor.description is not None:
                cursor.fetchall()
    body = entry["body"].encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
