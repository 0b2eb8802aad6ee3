"""Compile ``locale/*/LC_MESSAGES/django.po`` into ``.mo`` files with Babel (no gettext tools needed).

Django's own ``compilemessages`` needs GNU gettext's ``msgfmt``, which a fresh machine lacks;
``make run`` and ``make test`` call this instead.
"""

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Compile the project's .po translation files into .mo files (pure Python)."

    def handle(self, *args, **options):
        compiled = 0
        for locale_dir in settings.LOCALE_PATHS:
            for po_path in sorted(Path(locale_dir).glob("*/LC_MESSAGES/*.po")):
                mo_path = po_path.with_suffix(".mo")
                if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
                    continue
                with open(po_path, "rb") as f:
                    catalog = read_po(f, locale=po_path.parent.parent.name.replace("_", "-").split("-")[0])
                with open(mo_path, "wb") as f:
                    write_mo(f, catalog, use_fuzzy=False)
                compiled += 1
        self.stdout.write(f"compile_translations: {compiled} catalog(s) compiled")
