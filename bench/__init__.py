"""Benchmarks of lensflow (issue 6): `python -m bench.run`; results in bench/results/."""
