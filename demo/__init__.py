# SPDX-License-Identifier: Apache-2.0
"""``make demo``: tipshare end to end on one machine (``python -m demo --help``)."""
