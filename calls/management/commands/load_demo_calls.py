from django.core.management.base import BaseCommand, CommandError

from calls.demo import demo_calls_load
from schools.models import School


class Command(BaseCommand):
    help = "Add a few days of call history to the demo school (run load_demo first); running it again adds nothing."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=5, help="Local days of history, today included (default 5).")

    def handle(self, *args, days, **options):
        if days < 1:
            raise CommandError("--days must be at least 1.")
        try:
            s = demo_calls_load(days=days)
        except School.DoesNotExist:
            raise CommandError("No demo school: run `manage.py load_demo` first.") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo calls ({s['school']}): {s['calls']} calls from {s['first_day']} to {s['last_day']} "
                f"({s['calls_created']} new), {s['students']} students, {s['parents']} parents, "
                f"{s['authorizations_created']} new device authorizations."
            )
        )
