"""The telemetry app's models, one module per domain, re-exported here so that
`telemetry.models.AlertRule` (Django's app registry, migrations, settings) keeps resolving."""

from telemetry.models.alerting import SLO as SLO
from telemetry.models.alerting import AlertEvent as AlertEvent
from telemetry.models.alerting import AlertingAuditEntry as AlertingAuditEntry
from telemetry.models.alerting import AlertRule as AlertRule
from telemetry.models.alerting import AlertStatus as AlertStatus
from telemetry.models.alerting import AuditAction as AuditAction
from telemetry.models.alerting import PublicationOutcome as PublicationOutcome
from telemetry.models.alerting import RulePublication as RulePublication
from telemetry.models.alerting import Severity as Severity
from telemetry.models.alerting import Source as Source
from telemetry.models.explorer import LogSearch as LogSearch
from telemetry.models.explorer import ServiceOverview as ServiceOverview
from telemetry.models.explorer import StoredLogRecord as StoredLogRecord
from telemetry.models.explorer import StoredProcess as StoredProcess
from telemetry.models.explorer import StoredSpan as StoredSpan
from telemetry.models.explorer import TraceSearch as TraceSearch
from telemetry.models.profiling import ContinuousProfileWindow as ContinuousProfileWindow
from telemetry.models.profiling import ContinuousProfiling as ContinuousProfiling
from telemetry.models.profiling import ImportFrames as ImportFrames
from telemetry.models.profiling import ProfilingCapture as ProfilingCapture
from telemetry.models.profiling import ProfilingProcessResult as ProfilingProcessResult
from telemetry.models.profiling import ProfilingRun as ProfilingRun
from telemetry.models.sampling import SamplingPolicy as SamplingPolicy
from telemetry.models.sampling import SamplingRule as SamplingRule
from telemetry.models.sampling import validate_regex as validate_regex
