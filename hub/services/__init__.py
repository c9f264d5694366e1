# SPDX-License-Identifier: Apache-2.0
"""The hub's services: plain classes over a database session, with no web framework in sight."""
