# SPDX-License-Identifier: Apache-2.0
"""Secure aggregation (issue 18): the round's arithmetic and messages, pure.

* :mod:`~protocol.secagg.encoding` — signed cells to Z/2^64 with the public offset, and the no-wrap rule;
* :mod:`~protocol.secagg.messages` — the round's messages, from roster to result;
* :mod:`~protocol.secagg.masks` — self-masks and pairwise masks, and the keys they come from;
* :mod:`~protocol.secagg.member` — a member's three steps and its unmasking rule;
* :mod:`~protocol.secagg.coordinator` — the hub's messages between the steps (roster, committed set, survivors,
  result);
* :mod:`~protocol.secagg.reconstruction` — the sum from the log, as the hub and any auditor compute it;
* :mod:`~protocol.secagg.transcript` — the auditor's check of a whole round, each failure named;
* :mod:`~protocol.secagg.totals` — the round's table totals against the survivors' one-cell totals.

The design, the keys and the proofs: docs/secure-aggregation.md.
"""
