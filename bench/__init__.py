# SPDX-License-Identifier: Apache-2.0
"""tipshare's benchmarks: accuracy and speed, each against a baseline measured in the same run.

Run them all with ``python -m bench`` (``make bench``), one with ``python -m bench NAME``, and a fast smoke run
with ``--quick``. Every figure is a ratio to a baseline measured in the same run, plus the medians of several
runs, because the machines this runs on are shared and noisy. See ``BENCHMARKS.md``.
"""
