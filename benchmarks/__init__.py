"""nestpy's benchmark suite: peer servers, a Node load generator and the harness.

Run ``python -m benchmarks.run`` from the repository root (see docs/performance.md).
"""
