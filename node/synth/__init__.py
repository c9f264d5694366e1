# SPDX-License-Identifier: Apache-2.0
"""Synthetic HTCDS-style exports with their true counts, for tests, the demo and benchmarks (never real data)."""

from __future__ import annotations

from node.synth.generator import InvalidCell, SynthExport, generate_export
from node.synth.profiles import Profile, SynthError, UnknownProfile, profile, profiles

__all__ = [
    "InvalidCell",
    "Profile",
    "SynthError",
    "SynthExport",
    "UnknownProfile",
    "generate_export",
    "profile",
    "profiles",
]
