"""The telemetry app's models, one module per domain, re-exported here so that
`telemetry.models.AlertRule` (Django's app registry, migrations, settings) keeps resolving."""

from telemetry.models.alerting import SLO as SLO
from telemetry.models.alerting import AlertEvent as AlertEvent
from telemetry.models.alerting import AlertRule as AlertRule
from telemetry.models.alerting import AlertStatus as AlertStatus
from telemetry.models.alerting import Severity as Severity
from telemetry.models.profiling import ContinuousProfileWindow as ContinuousProfileWindow
from telemetry.models.profiling import ContinuousProfiling as ContinuousProfiling
from telemetry.models.profiling import ImportFrames as ImportFrames
from telemetry.models.profiling import ProfilingCapture as ProfilingCapture
from telemetry.models.profiling import ProfilingProcessResult as ProfilingProcessResult
from telemetry.models.profiling import ProfilingRun as ProfilingRun
from telemetry.models.sampling import SamplingPolicy as SamplingPolicy
from telemetry.models.sampling import SamplingRule as SamplingRule
from telemetry.models.sampling import validate_regex as validate_regex
