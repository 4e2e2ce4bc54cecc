"""Benchmarks of the gateway side by side with the direct upstream and peer gateways
(issue 9): ``make bench`` runs :mod:`bench.runner`; results land in ``bench/results/``."""
