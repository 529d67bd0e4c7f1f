"""Continuous profiling: every web and worker process samples its threads' stacks at a low
rate all the time (switched and paced live from the admin), folds them per time window, and
writes one bounded row per process and window. config (the admin's row, as a snapshot),
sampler (the sampling thread), spans (tying samples to traces), windows (storage, pruning
and reading a time range), lifecycle (the control poller's step that runs it all)."""
