# SPDX-License-Identifier: Apache-2.0
"""HTTP routes, one router per resource; thin: parse, call a service, return a schema."""
