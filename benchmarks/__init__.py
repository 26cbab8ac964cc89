"""Side-by-side benchmarks of skres against baselines; not part of the test-suite.

Run ``python -m benchmarks`` (all) or ``python -m benchmarks sae`` (some) to write
``benchmarks/RESULTS.md``.
"""
