"""`python -m telemetry.upstream`: print the list of private symbols as docs/upstream.md
holds it, then (on stderr) whether the installed OpenTelemetry is the tested one, every
listed symbol resolving; exit 1 if not."""

from __future__ import annotations

import sys

from telemetry.upstream.compatibility import check_compatibility
from telemetry.upstream.private_api import PRIVATE_SYMBOLS
from telemetry.upstream.rendering import markdown

if __name__ == "__main__":
    sys.stdout.write(markdown())
    compatibility = check_compatibility(PRIVATE_SYMBOLS)
    verdict = "tested" if compatibility.tested else "NOT the tested one"
    print(f"installed OpenTelemetry: {verdict} ({compatibility.describe()})", file=sys.stderr)
    sys.exit(0 if compatibility.tested else 1)
