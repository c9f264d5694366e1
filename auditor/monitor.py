# SPDX-License-Identifier: Apache-2.0
"""The RFC 6962 monitor: follow the hub's log from checkpoint to checkpoint and prove it only ever grew.

:meth:`LogMonitor.advance` does, in this order (see the transparency-log notes, Part A, for the pitfalls):

1. fetch the latest checkpoint **first**, and open it with the pinned log key only; its size and root are the
   only ones trusted (an entries page or a proof names sizes too, unsigned);
2. compare it with every checkpoint seen before (kept in the state DIR): a smaller size is a rollback, the same
   size with another root a fork, and for every smaller one the hub's consistency proof must verify
   (:func:`protocol.merkle.verify_consistency`);
3. fetch the entries not held yet, up to the checkpoint's size and no further (the log may move meanwhile),
   recomputing each leaf hash from the data (the hash the hub serves alongside is only compared);
4. rebuild the Merkle root from *all* leaves, stored and new, and compare it with the checkpoint's root and
   with every earlier checkpoint's (a full check, like ``fsck``, not only proofs).

Any failure marks the monitor ``broken``: the caller then stores nothing, so the state never holds a log view
that did not verify.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from auditor.client import AuditClient
from auditor.errors import HubResponseInvalid, StateError
from auditor.findings import Check, Failure
from auditor.i18n import T_
from auditor.state import SeenCheckpoint, StateStore
from protocol.checkpoint import Checkpoint, open_checkpoint
from protocol.errors import InvalidCheckpoint, InvalidProof
from protocol.merkle import EMPTY_ROOT, CompactRange, leaf_hash, root_hash, verify_consistency
from protocol.messages import b64encode
from protocol.note import NoteVerifier

__all__ = ["MAX_MISSING", "LogMonitor"]

#: How many missing entries are looked for before giving up on a hub that serves none.
MAX_MISSING: Final = 1000


class LogMonitor:
    """The verified view of one log, extended one checkpoint at a time."""

    def __init__(
        self, *, client: AuditClient, store: StateStore, verifier: NoteVerifier, page_size: int, now: datetime
    ) -> None:
        self._client = client
        self._store = store
        self._verifier = verifier
        self._page_size = page_size
        self._now = now
        self._leaf_hashes = store.leaf_hashes()
        self._seen = {c.size: c for c in store.checkpoints()}
        self._roots: dict[int, bytes] = {}
        #: Entries held before this run, and entries fetched during it.
        self.entries_before = len(self._leaf_hashes)
        self.fetched = 0
        #: The latest checkpoint verified in this run (``None``: the log is empty, or nothing verified yet).
        self.checkpoint: Checkpoint | None = None
        #: The note of that checkpoint as the hub served it (with any witness cosignatures).
        self.note: str | None = None
        #: Sizes of earlier checkpoints the latest one was proven consistent with.
        self.consistent_with: set[int] = set()
        self.failures: list[Failure] = []
        self.broken = False
        self._check_state()

    @property
    def size(self) -> int:
        """The size of the latest verified checkpoint (0 for an empty log)."""
        return 0 if self.checkpoint is None else self.checkpoint.size

    @property
    def seen_sizes(self) -> list[int]:
        return sorted(self._seen)

    def root_at(self, size: int) -> bytes:
        """The root rebuilt from the first ``size`` verified leaves."""
        if not 0 <= size <= len(self._leaf_hashes):
            raise ValueError(f"no verified leaves for a tree of size {size}")
        if size not in self._roots:
            self._roots[size] = root_hash(self._leaf_hashes[:size])
        return self._roots[size]

    def advance(self) -> bool:
        """Fetch, verify and adopt the hub's latest checkpoint; ``False`` (and ``broken``) if anything failed."""
        failures_before = len(self.failures)
        note = self._client.checkpoint()
        if note is None:
            if any(size > 0 for size in self._seen):
                self._fail(
                    Check.ROLLBACK,
                    T_("the hub serves an empty log, but checkpoint {size} was seen", size=max(self._seen)),
                )
            return self._settle(failures_before, None)
        try:
            checkpoint = open_checkpoint(note, self._verifier, origin=self._verifier.name)
        except InvalidCheckpoint as e:
            self._fail(
                Check.CHECKPOINT,
                T_("the hub's checkpoint does not verify with the pinned log key: {error}", error=str(e)),
            )
            return self._settle(failures_before, None)
        self._compare_with_seen(checkpoint)
        complete = True
        if checkpoint.size > len(self._leaf_hashes):
            complete = self._fetch(len(self._leaf_hashes), checkpoint.size)
        if complete:
            self._rebuild(checkpoint)
        return self._settle(failures_before, SeenCheckpoint(checkpoint.size, checkpoint.root_hash, note), checkpoint)

    def adopt(self, note: str, *, size: int, root: bytes) -> str | None:
        """Check a checkpoint the hub named elsewhere (a statistics answer) against the verified leaves.

        Returns why it does not fit, or ``None`` (and remembers it) if it is signed by the log key, says
        ``(size, root)``, and that is the root of the first ``size`` verified leaves.
        """
        try:
            checkpoint = open_checkpoint(note, self._verifier, origin=self._verifier.name)
        except InvalidCheckpoint as e:
            return T_("its checkpoint note does not verify with the pinned log key: {error}", error=str(e))
        if (checkpoint.size, checkpoint.root_hash) != (size, root):
            return T_(
                "its checkpoint note says size {noted}, not the size {size} and root it names",
                noted=checkpoint.size,
                size=size,
            )
        if size > len(self._leaf_hashes) or self.root_at(size) != root:
            return T_(
                "checkpoint {size} (root {root}) is not the log's tree of that size", size=size, root=b64encode(root)
            )
        if size not in self._seen:
            self._seen[size] = SeenCheckpoint(size, root, note)
            self._store.add_checkpoint(self._seen[size], now=self._now)
        return None

    # ------------------------------------------------------------------ steps

    def _check_state(self) -> None:
        largest = max(self._seen, default=0)
        if largest != len(self._leaf_hashes):
            raise StateError(
                T_(
                    "the state DIR is corrupt: it holds {count} entries but checkpoint {largest}",
                    count=len(self._leaf_hashes),
                    largest=largest,
                )
            )

    def _compare_with_seen(self, checkpoint: Checkpoint) -> None:
        for seen in sorted(self._seen.values(), key=lambda c: c.size):
            if seen.size > checkpoint.size:
                self._fail(
                    Check.ROLLBACK,
                    T_(
                        "the hub's checkpoint has size {size}, smaller than checkpoint {seen} seen before: the log "
                        "was rolled back",
                        size=checkpoint.size,
                        seen=seen.size,
                    ),
                )
            elif seen.size == checkpoint.size:
                if seen.root_hash != checkpoint.root_hash:
                    self._fail(
                        Check.ROLLBACK,
                        T_(
                            "checkpoint {size} has root {root}, but the checkpoint of that size seen before had root "
                            "{seen_root}: the log forked",
                            size=checkpoint.size,
                            root=b64encode(checkpoint.root_hash),
                            seen_root=b64encode(seen.root_hash),
                        ),
                    )
            elif seen.size > 0:
                try:
                    proof = self._client.consistency_proof(seen.size, checkpoint.size)
                    verify_consistency(seen.size, checkpoint.size, seen.root_hash, checkpoint.root_hash, proof)
                except HubResponseInvalid as e:  # a refusal to prove is a failure; a 5xx stays "try again" (exit 2)
                    self._fail(
                        Check.CONSISTENCY,
                        T_(
                            "the hub gives no consistency proof from checkpoint {seen} seen before to checkpoint "
                            "{size}: {error}",
                            seen=seen.size,
                            size=checkpoint.size,
                            error=str(e),
                        ),
                    )
                except InvalidProof as e:
                    self._fail(
                        Check.CONSISTENCY,
                        T_(
                            "checkpoint {size} is not consistent with checkpoint {seen} seen before (the hub's "
                            "consistency proof fails: {error})",
                            size=checkpoint.size,
                            seen=seen.size,
                            error=str(e),
                        ),
                    )
                else:
                    self.consistent_with.add(seen.size)

    def _fetch(self, start: int, end: int) -> bool:
        """Fetch entries ``start .. end - 1`` into the store; ``False`` if the hub left some out."""
        fetched: list[tuple[int, bytes, bytes]] = []
        missing: list[int] = []
        index = start
        refused = False
        while index < end and len(missing) < MAX_MISSING:
            try:
                page = self._client.entries(index, min(end, index + self._page_size))
            except HubResponseInvalid as e:
                self._fail(
                    Check.ENTRIES,
                    T_("the hub does not serve the entries its checkpoint commits to: {error}", error=str(e)),
                )
                refused = True
                break
            if not page:
                missing.append(index)
                index += 1
                continue
            for entry in page:
                if entry.index < index:
                    self._fail(
                        Check.ENTRIES, T_("the hub served entry {index} twice or out of order", index=entry.index)
                    )
                    refused = True
                    break
                missing += range(index, entry.index)
                hashed = leaf_hash(entry.data)
                if hashed != entry.claimed_leaf_hash:
                    self._fail(
                        Check.ENTRIES,
                        T_("the leaf hash the hub serves with this entry is not the hash of the entry's data"),
                        index=entry.index,
                    )
                fetched.append((entry.index, hashed, entry.data))
                index = entry.index + 1
            if refused:
                break
        self._store.add_entries(fetched)
        self.fetched += len(fetched)
        if refused:
            return False
        if missing or index < end:
            self._fail(
                Check.ENTRIES,
                T_(
                    "the hub did not serve {count} of the entries {first}..{last} its checkpoint commits to: "
                    "{missing}; the tree cannot be rebuilt",
                    count=len(missing),
                    first=start,
                    last=end - 1,
                    missing=_ranges(missing),
                )
                if missing
                else T_(
                    "the hub did not serve some of the entries {first}..{last} its checkpoint commits to; the tree "
                    "cannot be rebuilt",
                    first=start,
                    last=end - 1,
                ),
            )
            return False
        self._leaf_hashes += [hashed for _, hashed, _ in fetched]
        return True

    def _rebuild(self, checkpoint: Checkpoint) -> None:
        wanted = sorted({size for size in self._seen if size <= checkpoint.size} | {checkpoint.size})
        roots = _roots_at(self._leaf_hashes, wanted)
        if roots[checkpoint.size] != checkpoint.root_hash:
            self._fail(
                Check.ROOT,
                T_(
                    "the root rebuilt from all {size} entries is {rebuilt}, not the checkpoint's root {root}",
                    size=checkpoint.size,
                    rebuilt=b64encode(roots[checkpoint.size]),
                    root=b64encode(checkpoint.root_hash),
                ),
            )
        for size in wanted:
            seen = self._seen.get(size)
            if seen is not None and seen.size != checkpoint.size and roots[size] != seen.root_hash:
                self._fail(
                    Check.ROOT,
                    T_("the first {size} entries no longer rebuild checkpoint {size} seen before", size=size),
                )

    def _settle(self, failures_before: int, seen: SeenCheckpoint | None, checkpoint: Checkpoint | None = None) -> bool:
        if len(self.failures) > failures_before:
            self.broken = True
            return False
        if seen is not None and checkpoint is not None:
            self._seen.setdefault(seen.size, seen)
            self._store.add_checkpoint(seen, now=self._now)  # a second sighting records when it was last the latest
            self.checkpoint = checkpoint
            self.note = seen.note
        return True

    def _fail(self, check: Check, message: str, *, index: int | None = None) -> None:
        self.failures.append(Failure(check, message, index=index))


def _roots_at(leaf_hashes: list[bytes], sizes: Iterable[int]) -> dict[int, bytes]:
    """Root hashes of the prefixes of ``leaf_hashes`` of each size, in one pass."""
    wanted = set(sizes)
    roots: dict[int, bytes] = {0: EMPTY_ROOT} if 0 in wanted else {}
    frontier = CompactRange()
    for count, hashed in enumerate(leaf_hashes[: max(wanted, default=0)], start=1):
        frontier.append(hashed)
        if count in wanted:
            roots[count] = frontier.root()
    return roots


def _ranges(indices: list[int]) -> str:
    """``3, 7-9, 12`` (at most ten ranges shown)."""
    spans: list[tuple[int, int]] = []
    for i in indices:
        if spans and spans[-1][1] == i - 1:
            spans[-1] = (spans[-1][0], i)
        else:
            spans.append((i, i))
    shown = [f"{a}" if a == b else f"{a}-{b}" for a, b in spans[:10]]
    return ", ".join(shown) + (", ..." if len(spans) > 10 else "")
