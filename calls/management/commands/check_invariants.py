from django.core.management.base import BaseCommand, CommandError

from calls.services.invariants import invariant_check_run, invariants_check_all
from schools.invariants import LINES_MAX


class Command(BaseCommand):
    help = (
        "Check every invariant of the portal over the whole database (contacts within the limit, one admin, "
        "nothing of an inactive student served, every change with its audit row and outbox event); print each "
        "problem and a summary. Exits 1 when something breaks."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--limit", type=int, default=LINES_MAX, help=f"Problems printed per invariant (default {LINES_MAX})."
        )
        parser.add_argument(
            "--record", action="store_true", help="Also store the report for the admin, as the daily beat task does."
        )

    def handle(self, *args, limit, record, **options):
        if limit < 0:
            raise CommandError("--limit must be 0 or more.")
        if record:
            run = invariant_check_run(limit=limit)
            results, problems = run.details, run.problems
        else:
            results = [result.as_dict() for result in invariants_check_all(limit=limit)]
            problems = sum(result["total"] for result in results)
        for result in results:
            if not result["total"]:
                self.stdout.write(f"ok    {result['code']}: {result['title']}")
                continue
            self.stdout.write(self.style.ERROR(f"FAIL  {result['code']}: {result['title']} ({result['total']})"))
            for line in result["lines"]:
                self.stdout.write(f"      - {line}")
            if result["total"] > len(result["lines"]):
                self.stdout.write(f"      … and {result['total'] - len(result['lines'])} more")
        broken = sum(1 for result in results if result["total"])
        summary = f"{len(results)} invariants checked: {broken} broken, {problems} problem(s)."
        if problems:
            raise CommandError(summary, returncode=1)
        self.stdout.write(self.style.SUCCESS(summary))
