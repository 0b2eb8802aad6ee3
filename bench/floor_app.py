"""The raw-SQL floors of bench/hot_paths.py and bench/bind.py: minimal WSGI apps, no framework.

``application`` (hot_paths):
For ``/<path>/<k>`` it executes, through psycopg on one persistent connection per process, the
statements the portal ran for request ``k`` of that path (captured by bench/hot_paths.py into
``FLOOR_STATEMENTS``, a JSON file ``{path: [[sql, …], …]}``), fetches every row, and answers the
portal's own response body for that request. No framework, no middleware, no ORM: what the same
database work costs under the same gunicorn.

``bind_application`` (bind): ``POST /bind/<share-link token>`` with ``Authorization: Bearer``, the
share-link bind's transaction in hand-written SQL (see bench/bind.py).
"""

import hashlib
import json
import os
import uuid

import psycopg
from psycopg.types.json import Jsonb

_PLAN = None
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
    global _PLAN
    if _PLAN is None:
        with open(os.environ["FLOOR_STATEMENTS"], encoding="utf-8") as f:
            _PLAN = json.load(f)
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


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def bind_application(environ, start_response):
    """The share-link bind as one transaction of raw SQL, then the outbox position, as the portal does."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(length) or b"{}")
    link_token = environ["PATH_INFO"].rsplit("/", 1)[1]
    bearer = environ.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ")
    global _connection
    if _connection is None or _connection.closed:
        _connection = psycopg.connect(os.environ["FLOOR_DATABASE_URL"])
    conn = _connection
    with conn.transaction(), conn.cursor() as cur:  # the parent and the link, as authentication reads them
        cur.execute(
            "SELECT p.id, p.openid, p.voip_scope_granted FROM contacts_parenttoken t JOIN contacts_parent p"
            " ON p.id = t.parent_id WHERE t.token_hash = %s AND t.revoked_at IS NULL AND t.expires_at > now()",
            (_digest(bearer),),
        )
        parent_id, openid, _scope = cur.fetchone()
        cur.execute(
            "SELECT id, student_id, issued_by_id FROM contacts_sharelink WHERE token_hash = %s", (_digest(link_token),)
        )
        link_id, student_id, issued_by_id = cur.fetchone()
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "SELECT s.id, s.user_id, s.is_active, sc.id, sc.contact_limit, sc.is_active FROM schools_student s"
            " JOIN schools_school sc ON sc.id = s.school_id WHERE s.id = %s FOR UPDATE OF s",
            (student_id,),
        )
        _sid, user_id, _active, school_id, contact_limit, _school_active = cur.fetchone()
        cur.execute("SELECT expires_at, state FROM contacts_sharelink WHERE id = %s", (link_id,))
        cur.fetchone()
        cur.execute(
            "SELECT 1 FROM contacts_contact"
            " WHERE state = 'confirmed' AND parent_id = %s AND role = 1 AND student_id = %s",
            (issued_by_id, student_id),
        )
        assert cur.fetchone()
        cur.execute(
            "SELECT id, state FROM contacts_contact WHERE parent_id = %s AND student_id = %s", (parent_id, student_id)
        )
        assert cur.fetchone() is None
        cur.execute("SELECT count(*) FROM contacts_contact WHERE student_id = %s", (student_id,))
        assert cur.fetchone()[0] < contact_limit
        cur.execute(
            "INSERT INTO contacts_contact (student_id, parent_id, role, relation, bound_via, share_link_id, bound_at,"
            " state, state_changed_at) VALUES (%s, %s, 0, %s, 'share_link', %s, now(), 'pending', now()) RETURNING id",
            (student_id, parent_id, body.get("relation", ""), link_id),
        )
        data = {"relation": body.get("relation", ""), "state": "pending", "share_link": link_id}
        cur.execute(
            "INSERT INTO schools_auditlog (school_id, student_id, actor_openid, action, reason, data, created_at)"
            " VALUES (%s, %s, %s, 'contact_bound', '', %s, now()) RETURNING id",
            (school_id, student_id, openid, Jsonb(data)),
        )
        audit_id = cur.fetchone()[0]
        event = {"action": "contact_bound", "user_id": user_id, "actor_openid": openid, "detail": data}
        cur.execute(
            "INSERT INTO schools_outboxevent (event_id, school_id, type, data, created_at, audit_log_id)"
            " VALUES (%s, %s, 'contact.changed', %s, now(), %s) RETURNING id",
            (uuid.uuid4(), school_id, Jsonb(event), audit_id),
        )
        cur.execute("SELECT id FROM schools_webhookendpoint WHERE is_active AND school_id = %s", (school_id,))
        cur.fetchall()
    with conn.transaction(), conn.cursor() as cur:  # the outbox position, as schools.services.events gives it
        cur.execute("SELECT pg_advisory_xact_lock(7100000001)")
        cur.execute("SELECT id FROM schools_outboxevent WHERE position IS NULL ORDER BY 1")
        ids = [row[0] for row in cur.fetchall()]
        cur.execute("SELECT max(position) FROM schools_outboxevent")
        last = cur.fetchone()[0] or 0
        if ids:
            cur.execute(
                "UPDATE schools_outboxevent SET position = %s + array_position(%s::bigint[], id) WHERE id = ANY(%s)",
                (last, ids, ids),
            )
    answer = json.dumps({"allowed": True, "userId": user_id, "state": "pending"}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))])
    return [answer]
