# SPDX-License-Identifier: Apache-2.0
"""tipshare auditor (``tipshare-audit``): trusts nothing the hub says, and checks it all over HTTP and offline.

Imports only :mod:`protocol`, httpx, typer, rich and the standard library (an import-linter contract). The modules,
by concern:

==============================  =========================================================================
``auditor.cli``                 the command line: ``verify``, ``receipt``, ``version``; exit 0 / 1 / 2
``auditor.verify``              one ``verify`` run: identity, log, entries, statistics, in that order
``auditor.monitor``             the RFC 6962 monitor: checkpoint, consistency, entries, full root rebuild
``auditor.entries``             every entry checked: key events, and each submission against them
``auditor.resume``              the entry checks resumed from what earlier runs saved in the state DIR
``auditor.keys``                the key history rebuilt from the log's key events
``auditor.releases``            the current submissions of a tree size, read once: sums, who released what
``auditor.stats``               statistics recomputed from the accepted payloads
``auditor.compare``             a published answer compared, row by row, with the recomputed one
``auditor.estimates``           least-squares estimates recomputed from the accepted payloads
``auditor.compare_estimates``   an estimates answer compared, field by field, with the recomputed one
``auditor.verify_estimates``    the estimates half of ``verify``'s step 4: which questions, and each answer
``auditor.receipts``            a node's receipt verified offline (and against a state DIR)
``auditor.state``               the state DIR: pinned key, checkpoints seen, entries, entry checks (SQLite)
``auditor.client``              the hub's HTTP API (``published`` parses statistics answers)
``auditor.findings``            what failed: :class:`~auditor.findings.Failure` and its :class:`Check`
``auditor.report``              the outcome of a run; ``auditor.views`` prints it
``auditor.errors``              what stops a run (root :class:`~auditor.errors.AuditError`)
==============================  =========================================================================
"""
