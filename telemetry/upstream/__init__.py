"""How telemetry lives with OpenTelemetry's internals (docs/upstream.md).

The fast paths (telemetry.fastpath) replace stock OpenTelemetry parts for speed and lean on
private SDK and instrumentation code to do it. This package is the one place that says
which: `versions` holds the distributions and exact versions they were tested with,
`private_api` every private symbol our code uses and why, and `compatibility` checks both
against what is installed, so that a process can fall back to the stock parts instead of
breaking (telemetry.pipeline.fast_paths). It imports no other telemetry subpackage.
"""
