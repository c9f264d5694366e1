# SPDX-License-Identifier: Apache-2.0
"""The project's own tools, run from a checkout (not part of the installed package): the taxonomy's budget weights
(``allocate_budget.py``), the message catalogues (``python -m tools.i18n``), and what the test suite and the
benchmarks both start: a throwaway PostgreSQL cluster (:mod:`tools.postgres_cluster`) and a hub served for real
(:mod:`tools.served_hub`)."""
