"""The processing work itself: pure functions, no I/O, so they are easy to test and profile."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from typing import Any

_WORD = re.compile(r"\w+", re.UNICODE)


def analyze(data: str) -> dict[str, Any]:
    """Describe a text: sizes, word statistics and a content digest."""
    words = [word.lower() for word in _WORD.findall(data)]
    counts = Counter(words)
    return {
        "characters": len(data),
        "bytes": len(data.encode("utf-8")),
        "words": len(words),
        "unique_words": len(counts),
        "top_words": [[word, n] for word, n in counts.most_common(5)],
        "sha256": hashlib.sha256(data.encode("utf-8")).hexdigest(),
    }


def enrichment_for(analysis: dict[str, Any]) -> dict[str, Any]:
    """What the downstream service adds to an analysis: a size class and a reading time."""
    words = int(analysis["words"])
    if words < 50:
        size_class = "short"
    elif words < 1000:
        size_class = "medium"
    else:
        size_class = "long"
    return {
        "size_class": size_class,
        "reading_time_seconds": round(words / 4.0, 1),  # about 240 words a minute
        "digest_prefix": str(analysis["sha256"])[:12],
    }
