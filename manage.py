#!/usr/bin/env python
"""Django's command-line utility for the school VoIP portal.

Local development settings by default (``portal.settings.local``, which reads ``.env``); a
deployment runs it with ``DJANGO_SETTINGS_MODULE=portal.settings.production``.
"""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
