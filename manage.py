#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "observability_site.settings")
    from django.core.management import execute_from_command_line

    from telemetry.pipeline.setup import configure_for_command

    # Traces, metrics and logs of the command (runserver: of the autoreloader's child),
    # flushed when it exits.
    configure_for_command(sys.argv)
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
