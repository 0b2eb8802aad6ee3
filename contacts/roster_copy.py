"""Large student rosters on PostgreSQL: a background ``ImportJob``'s file COPY'd into a staging
table, checked in SQL with ``StudentResource``'s rules and merged by ``INSERT … SELECT``
(``schools.roster.copy`` for the steps and the school's lock).

The rules and their messages are ``StudentResource``'s (``contacts.resources``), row for row,
taken from it rather than restated; a row has at most one kind of error, in this order:

1. a ``user_id`` an earlier row of the file gave: ``given_twice_message`` (the later rows);
2. a ``user_id`` of another school: ``other_school_message`` (it says nothing of that school);
3. a row of one of the school's students that changes nothing: skipped, not checked;
4. the fields: the model's own ``clean_fields`` (``field_errors``: blank, lengths, the user_id
   pattern, URLs). A pre-check derived from the same fields (``FieldPrecheck``) clears the rows
   it can; the others (every row with an avatar URL, every suspicious row) go through
   ``clean_fields`` in Python, streamed;
5. student numbers, unique in a school and claimed in file order (``StudentResource.check_rules``,
   with ``number_taken_message``): a valid row that changes a student claims its number; a claim
   wins if no student of the school holds the number, or the claimant holds it, or the holder
   moved to another number at an earlier row (its own claim having won) and no other row claimed
   the number in between; the first winning claim keeps the number. The resource decides this row
   by row with a dictionary; here it is set-based: one pass decides every claim that needs no
   chain (no holder, or the claimant; the first claim of a number given twice), and a recursive
   query follows the chains of moves when there are some. Writing the updates in file order, then
   the new rows, keeps the database's unique index satisfied at every row, as the rule intends.

A file with any invalid row writes nothing; the job lists the errors (the first
``MAX_STORED_ERRORS``) and totals as the resource path does. Otherwise ``INSERT … SELECT … ON
CONFLICT DO UPDATE`` updates the changed students (only them) and ``INSERT … SELECT`` adds the new
ones, then the whole-file step deactivates the school's students the file no longer lists, if
asked (``StudentResource.deactivate``: share links revoked, an audit row each), all in the same
transaction.

The one-pass classification and the merge read nothing of the file into Python; the field check
reads only the rows the pre-check flags, through a server-side cursor, and the error listing the
first ``MAX_STORED_ERRORS`` invalid rows.
"""

import json
from typing import ClassVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection
from django.utils import timezone
from psycopg.errors import UniqueViolation

from contacts.resources import StudentResource
from schools.models import Student
from schools.pinyin import name_initials
from schools.roster.copy import ConcurrentWrite, CopyImport, register_copy, sql_name
from schools.roster.errors import MAX_STORED_ERRORS, truncated_errors

INVALID = ("twice", "other", "fields", "number")  # row states that are errors
STATE = "CASE WHEN claim = 'lost' THEN 'number' ELSE state END"  # a row's state, its claim decided


@register_copy
class StudentCopyImport(CopyImport):
    kind = "students"
    resource_class = StudentResource
    checked = "roster_checked"
    claims = "roster_claims"
    field_errors_table = "roster_field_errors"
    work_tables = (checked, claims, field_errors_table)
    derived: ClassVar = {"name_initials": ("name", name_initials)}  # as Student.save() writes them

    @property
    def table(self) -> str:
        return sql_name(Student._meta.db_table)

    def column(self, attr: str) -> str:
        return sql_name(Student._meta.get_field(attr).column)

    @property
    def others(self) -> list[str]:
        """The writable attributes besides the key."""
        return [attr for attr in self.attrs if attr != self.key]

    @property
    def written(self) -> list[str]:
        """What a row writes besides the key: ``others`` and the ``derived`` attributes (compared
        by ``others`` only: a row that changes nothing the file gives is skipped, as the resource
        path skips it)."""
        return [*self.others, *self.derived]

    # ---- check

    def check(self) -> tuple[dict, list[dict]]:
        self.drop_tables(*self.work_tables)
        self._classify()
        failed_claims = self._check_fields()
        if failed_claims or self.fetch(f"SELECT EXISTS (SELECT 1 FROM {self.checked} WHERE claim = 'moved')")[0][0]:
            self._check_numbers()
        counts = self.fetch(f"SELECT {STATE}, student_id IS NULL, count(*) FROM {self.checked} GROUP BY 1, 2")
        totals = dict.fromkeys(("new", "update", "skip", "invalid", "error"), 0)
        for state, new, count in counts:
            if state in INVALID:
                totals["invalid"] += count
            elif state == "skip":
                totals["skip"] += count
            else:
                totals["new" if new else "update"] += count
        return totals, self._errors(totals["invalid"]) if totals["invalid"] else []

    def _classify(self) -> None:
        """One pass over the staged rows: each row's merged values (a column the file lacks keeps
        the student's value, or a new student's default), its ``state`` (twice, other, skip, check:
        fields to check in Python, or ok) and, for a row that claims a student number (ok or
        check, with a number), its ``claim``: won, lost (``owner``: the first row's user_id) or
        moved (the number's holder is another student of the school: ``_check_numbers`` decides).
        ``holder``: the user_id of the school's student holding the row's number."""
        present = {*self.columns, *self.derived_columns}

        def merged(attr):
            return f"r.{attr}" if attr in present else f"COALESCE(s.{self.column(attr)}, '')"

        values = ", ".join(f"{merged(attr)} AS {attr}" for attr in self.written)
        old = ", ".join(f"s.{self.column(attr)} AS old_{attr}" for attr in self.others)
        mine = ", ".join(f"m.{attr}" for attr in self.others)
        theirs = ", ".join(f"m.old_{attr}" for attr in self.others)
        written = ", ".join(f"m.{attr}" for attr in self.written)
        unchanged = f"m.student_id IS NOT NULL AND ({mine}) IS NOT DISTINCT FROM ({theirs})"
        suspect = self.precheck.sql(lambda attr: f"m.{attr}", "m.flagged")
        school, number, key = self.column("school"), self.column("student_number"), self.column(self.key)
        # No sort of the whole file: the rows are joined to their students (by user_id) and to the
        # holders of their numbers (by number); only the user_ids and the numbers given more than
        # once are put in order (``twice``, ``shared``), usually none.
        self.execute(
            f"""
            CREATE TEMPORARY TABLE {self.checked} AS
            WITH twice AS (
                SELECT {self.key}, min(row_number) AS first_row FROM {self.staging}
                WHERE {self.key} <> '' GROUP BY {self.key} HAVING count(*) > 1
            ),
            classified AS MATERIALIZED (
                SELECT k.*, k.state IN ('ok', 'check') AND k.student_number <> '' AS claims, h.{key} AS holder
                FROM (
                    SELECT m.row_number, m.{self.key}, {written}, m.student_id, m.first_row,
                           CASE
                               WHEN m.first_row < m.row_number THEN 'twice'
                               WHEN m.student_school <> %s THEN 'other'
                               WHEN {unchanged} THEN 'skip'
                               WHEN {suspect} THEN 'check'
                               ELSE 'ok'
                           END AS state
                    FROM (
                        SELECT r.row_number, r.{self.key}, {values}, {old}, r.flagged, t.first_row,
                               s.id AS student_id, s.{school} AS student_school
                        FROM {self.staging} r
                        LEFT JOIN {self.table} s ON s.{key} = r.{self.key}
                        LEFT JOIN twice t ON t.{self.key} = r.{self.key}
                    ) m
                ) k
                LEFT JOIN {self.table} h ON h.{school} = %s AND h.{number} = k.student_number AND h.{number} <> ''
            ),
            shared AS (
                SELECT row_number, lag(row_number) OVER w AS prev_pos, first_value({self.key}) OVER w AS first_u
                FROM classified
                WHERE claims AND student_number IN (
                    SELECT student_number FROM classified WHERE claims GROUP BY student_number HAVING count(*) > 1
                )
                WINDOW w AS (PARTITION BY student_number ORDER BY row_number)
            )
            SELECT c.row_number, c.{self.key}, {", ".join(f"c.{attr}" for attr in self.written)},
                   c.student_id, c.first_row, c.holder, c.state,
                   CASE WHEN c.claims THEN
                       CASE
                           WHEN c.holder = c.{self.key} THEN 'won'
                           WHEN c.holder IS NOT NULL THEN 'moved'
                           WHEN x.prev_pos IS NULL THEN 'won'
                           ELSE 'lost'
                       END
                   END AS claim,
                   CASE WHEN c.claims AND c.holder IS NULL AND x.prev_pos IS NOT NULL THEN x.first_u END AS owner
            FROM classified c LEFT JOIN shared x ON x.row_number = c.row_number
            """,
            [self.school.pk, self.school.pk],
        )

    def _check_fields(self) -> bool:
        """The rows SQL could not clear, through the model's ``clean_fields`` (``field_errors``), in
        file order, a chunk at a time (a server-side cursor): their state becomes ``fields`` (the
        errors in a table of their own) or ``ok``. Returns whether one of the failed rows claimed a
        student number (the claims are then decided again, without it)."""
        self.execute(f"CREATE TEMPORARY TABLE {self.field_errors_table} (row_number integer PRIMARY KEY, errors text)")
        copy_sql = f"COPY {self.field_errors_table} (row_number, errors) FROM STDIN"
        columns = ", ".join(self.attrs)
        with connection.chunked_cursor() as rows:
            rows.execute(f"SELECT row_number, {columns} FROM {self.checked} WHERE state = 'check' ORDER BY row_number")
            while batch := rows.fetchmany(2000):
                found = []
                for number, *values in batch:
                    errors = self.resource.field_errors(Student(**dict(zip(self.attrs, values, strict=True))))
                    if errors:
                        found.append((number, json.dumps(ValidationError(errors).message_dict, ensure_ascii=False)))
                if found:
                    with connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
                        for row in found:
                            copy.write_row(row)
        [(failed_claims,)] = self.fetch(
            f"""
            WITH failed AS (
                UPDATE {self.checked} c SET state = 'fields' FROM {self.field_errors_table} e
                WHERE e.row_number = c.row_number RETURNING c.claim
            )
            SELECT count(claim) FROM failed
            """
        )
        self.execute(f"UPDATE {self.checked} SET state = 'ok' WHERE state = 'check'")
        return bool(failed_claims)

    def _check_numbers(self) -> None:
        """The claims decided again, all of them, when one pass could not (a number held by
        another student of the school, or a row that claimed one failed its fields): the rule of
        the module, with the chains of moves followed by a recursive query. Sets each claim won or
        lost (``owner``: the user_id holding the number when the row came)."""
        self.execute(f"UPDATE {self.checked} SET claim = NULL, owner = NULL WHERE claim IS NOT NULL AND state <> 'ok'")
        self.execute(
            f"""
            CREATE TEMPORARY TABLE {self.claims} AS
            SELECT c.row_number AS pos, c.{self.key} AS u, c.student_number AS n, c.holder AS y,
                   first_value(c.{self.key}) OVER w AS first_u, lag(c.row_number) OVER w AS prev_pos
            FROM {self.checked} c
            WHERE c.claim IS NOT NULL
            WINDOW w AS (PARTITION BY c.student_number ORDER BY c.row_number)
            """
        )
        self.execute(f"CREATE INDEX ON {self.claims} (u)")
        self.execute(f"CREATE INDEX ON {self.claims} (n, pos)")
        self.execute(f"ANALYZE {self.claims}")
        # won: a claim on a number nobody holds that no earlier row claimed, or on the claimant's own
        # number; then, along the chains of moves, the first claim after the holder's own claim won.
        self.execute(
            f"""
            WITH RECURSIVE
            links AS (
                SELECT c.pos, cy.pos AS after
                FROM {self.claims} c JOIN {self.claims} cy ON cy.u = c.y
                WHERE c.y <> c.u AND cy.n <> c.n AND cy.pos < c.pos AND (c.prev_pos IS NULL OR c.prev_pos < cy.pos)
            ),
            won (pos) AS (
                SELECT pos FROM {self.claims} WHERE y = u OR (y IS NULL AND prev_pos IS NULL)
                UNION ALL
                SELECT links.pos FROM links JOIN won ON links.after = won.pos
            ),
            verdict AS (
                SELECT c.pos, w.pos IS NOT NULL AS won,
                       CASE
                           WHEN w.pos IS NOT NULL THEN NULL
                           WHEN c.y IS NULL THEN c.first_u
                           WHEN wy.pos IS NOT NULL AND cy.n <> c.n AND cy.pos < c.pos THEN (
                               SELECT x.u FROM {self.claims} x
                               WHERE x.n = c.n AND x.pos > cy.pos ORDER BY x.pos LIMIT 1
                           )
                           ELSE c.y
                       END AS owner
                FROM {self.claims} c
                LEFT JOIN won w ON w.pos = c.pos
                LEFT JOIN {self.claims} cy ON cy.u = c.y
                LEFT JOIN won wy ON wy.pos = cy.pos
            )
            UPDATE {self.checked} t SET claim = CASE WHEN verdict.won THEN 'won' ELSE 'lost' END, owner = verdict.owner
            FROM verdict WHERE t.row_number = verdict.pos
            """
        )

    def _errors(self, invalid: int) -> list[dict]:
        """The first ``MAX_STORED_ERRORS`` invalid rows' errors in ``result_errors``' shape."""
        rows = self.fetch(
            f"""
            SELECT c.row_number, c.state, c.first_row, c.owner, c.student_number, e.errors
            FROM (SELECT row_number, first_row, owner, student_number, {STATE} AS state FROM {self.checked}) c
            LEFT JOIN {self.field_errors_table} e ON e.row_number = c.row_number
            WHERE c.state = ANY(%s) ORDER BY c.row_number LIMIT %s
            """,
            [list(INVALID), MAX_STORED_ERRORS],
        )
        errors = []
        for row_number, state, first_row, owner, number, field_errors in rows:
            if state == "twice":
                fields = {self.key: [str(self.resource.given_twice_message(first_row))]}
            elif state == "other":
                fields = {self.key: [str(self.resource.other_school_message)]}
            elif state == "number":
                fields = {"student_number": [str(self.resource.number_taken_message(number, owner))]}
            else:
                fields = json.loads(field_errors)
            errors.append({"row": row_number, "errors": fields})
        return truncated_errors(errors, total=invalid)

    # ---- write

    def write(self) -> int:
        """Write the rows, in file order, then run the whole-file step; ``ConcurrentWrite`` if a row
        could not be written as checked (a unique index refused it, or fewer rows were written).

        The school's changed students first, updated by one ``INSERT … SELECT … ON CONFLICT DO
        UPDATE`` in file order (only those that changed: a number moving along a chain frees it
        before the next row takes it, as the rule of the module supposes), then the new students by
        one ``INSERT … SELECT`` (no conflict to arbitrate: plain inserts, faster). A number a new
        row takes was free at its row, so also once every update is written.
        """
        now = timezone.now()
        columns = [self.key, *self.written]
        names = ", ".join(self.column(attr) for attr in columns)
        changed = ", ".join(f"s.{self.column(attr)}" for attr in self.written)
        excluded = ", ".join(f"EXCLUDED.{self.column(attr)}" for attr in self.written)
        updates = ", ".join(f"{self.column(attr)} = EXCLUDED.{self.column(attr)}" for attr in self.written)
        school, active = self.column("school"), self.column("is_active")
        created, updated = self.column("created_at"), self.column("updated_at")
        insert = f"""
            INSERT INTO {self.table} AS s ({school}, {names}, {active}, {created}, {updated})
            SELECT %s, {", ".join(columns)}, %s, %s, %s FROM {self.checked}
            WHERE state = 'ok' AND student_id IS {{}} NULL ORDER BY row_number
        """
        params = [self.school.pk, Student._meta.get_field("is_active").get_default(), now, now]
        try:
            written = self.execute(
                insert.format("NOT")
                + f"""
                ON CONFLICT ({self.column(self.key)}) DO UPDATE SET {updates}, {updated} = EXCLUDED.{updated}
                WHERE s.{school} = EXCLUDED.{school} AND ({changed}) IS DISTINCT FROM ({excluded})
                """,
                params,
            )
            written += self.execute(insert.format(""), params)
        except IntegrityError as exc:
            if isinstance(exc.__cause__, UniqueViolation):
                raise ConcurrentWrite from exc
            raise
        if written != self.fetch(f"SELECT count(*) FROM {self.checked} WHERE state = 'ok'")[0][0]:
            raise ConcurrentWrite
        self.drop_tables(*self.work_tables)
        return self._deactivate_missing()

    def _deactivate_missing(self) -> int:
        """``deactivate_missing``: the school's active students (``Student.objects.active()``) whose
        user_id no row of the file gives; never for a file without user_ids."""
        if not self.deactivate_missing:
            return 0
        if not self.fetch(f"SELECT EXISTS (SELECT 1 FROM {self.staging} WHERE {self.key} <> '')")[0][0]:
            return 0
        active = Student.objects.active().for_school(self.school.pk).order_by().values_list("pk", self.key)
        sql, params = active.query.sql_with_params()
        missing = self.fetch(
            f"SELECT a.id FROM ({sql}) AS a (id, user_key) "
            f"WHERE NOT EXISTS (SELECT 1 FROM {self.staging} r WHERE r.{self.key} = a.user_key)",
            params,
        )
        return self.resource.deactivate([pk for (pk,) in missing], user=self.user, file_name=self.file_name)
