import secrets

from django.core.management.base import BaseCommand

from schools.demo.loader import demo_school_load


class Command(BaseCommand):
    help = "Load (or refresh) the demo school from the shipped roster and print the staff login."

    def add_arguments(self, parser):
        parser.add_argument("--password", default="", help="Staff password (default: a new random one).")
        # bin/run passes the port runserver serves: the environment (or .env, which the settings
        # read into it) may name another.
        parser.add_argument("--port", type=int, default=8000, help="Port of the printed URL (default 8000).")

    def handle(self, *args, password, port, **options):
        summary = demo_school_load(staff_password=password or secrets.token_urlsafe(12))
        out = self.stdout.write
        out(self.style.SUCCESS(f"Demo school {summary.school.name} ({summary.school.code}) loaded:"))
        out(f"  {summary.students} students, {summary.devices} phones ({summary.groups} device groups)")
        login = f"user {summary.staff_username}  password {summary.staff_password}"
        out(f"  Staff login:  http://127.0.0.1:{port}/admin/  {login}")
        out(f"  Vendor API:   appid {summary.api_appid}  secret {summary.api_secret}")
