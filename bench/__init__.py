"""Benchmarks that print side-by-side ratios (docs/overhead.md, docs/profiling.md), and the
harness they share (bench.harness)."""
