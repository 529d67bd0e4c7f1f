"""Create the sampling policy row once, so that a new instance has a policy to steer in the
admin, keeping sampling as it is: its default ratio is what OTEL_TRACES_SAMPLER(_ARG) say.

`make run` calls it. A deployment that wants OTEL_TRACES_SAMPLER to decide (no row) does not
run it; a sampler no policy can express (one that ignores parents) is left to decide, and the
command says so.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from telemetry.models import SamplingPolicy
from telemetry.sampling.policy import announce_policy_change
from telemetry.sampling.sampler import ratio_named_by_env


class Command(BaseCommand):
    help = "Create the sampling policy row (from OTEL_TRACES_SAMPLER) unless one exists."

    def handle(self, *args: Any, **options: Any) -> None:
        if SamplingPolicy.objects.exists():
            self.stdout.write("Sampling policy: exists (Telemetry > Sampling policy)")
            return
        ratio, described = ratio_named_by_env()
        if ratio is None:
            self.stdout.write(
                f"Sampling policy: none created; {described} decides (a policy row always "
                "follows parents, this sampler does not)"
            )
            return
        SamplingPolicy.objects.create(default_ratio=ratio)
        announce_policy_change()
        self.stdout.write(
            f"Sampling policy: created with default ratio {ratio:g}, as {described} had it "
            "(steer it in Telemetry > Sampling policy)"
        )
