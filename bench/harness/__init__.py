"""What every benchmark in bench/ shares, so that each script keeps only what it measures.

- services: the service processes, started through tests.harness.servers (a prepared
  database, gunicorn, Celery), a collector that drops what it receives, and child
  processes that print one result line.
- wrk: the load (wrk, or a Python load generator where wrk is missing) and its output.
- procfs: CPU time and memory of a process tree, from /proc.
- rounds: modes in rotated rounds, and ratios to the baseline of the same round.
- report: ratio tables printed the same way by every script, JSON, and a PNG of the ratios.
"""
