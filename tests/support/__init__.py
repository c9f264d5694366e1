# SPDX-License-Identifier: Apache-2.0
"""Builders shared by the test suite: real keys, real envelopes, real hubs."""
