# SPDX-License-Identifier: Apache-2.0
"""What the three command-line programs share, between them and :mod:`protocol`.

``tipshare-node``, ``tipshare-hub`` and ``tipshare-audit`` are three apps that never import each other. They share
one way to run a command (:mod:`appkit.commands`: the state ``main`` hands every command, the root options,
``version``, how an error a person can act on becomes a paragraph on stderr and an exit status, ``--json``
output) and one way to choose the language people read (:mod:`appkit.languages`). The layering contracts place
this package above :mod:`protocol` and below the apps: it imports no app.
"""
