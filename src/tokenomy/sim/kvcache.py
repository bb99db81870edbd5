"""Paged KV cache of one replica: blocks of ``block_tokens`` tokens, held by the running sequences.

A running sequence occupies ``ceil(held / block_tokens)`` blocks, where ``held`` is the number of its own
tokens in the cache during a step (vLLM allocates a block when the token fed in a step needs one).
Shared-prefix tokens (``PrefixCache.shared_prefix_tokens``) are held once per replica, in
``shared_blocks``, not per sequence.  Sliding-window layers hold at most the window per sequence whatever its
length (core/memory.py): every running sequence is charged ``seq_blocks`` more blocks for them
(``StepCost.kv_tokens_per_seq``, 0 for a model without such layers).

Sequences live in slots (numpy arrays grown by doubling up to ``max_num_seqs``) so that the exact block count is one
vectorized expression.  A decoding sequence grows by ``tokens_per_step`` per decode step without being
touched: during replica step ``c`` it holds ``base + floor((c - ref) * tokens_per_step)`` tokens, with
``base`` its tokens during step ``ref``.  Scalar sums give an upper bound on the blocks in O(1), so the
exact (numpy) count runs only near a full cache.
"""

from __future__ import annotations

import math

import numpy as np

_EPS = 1e-9   # floor((c - ref) * tps) of exact products such as 3 * 1.0 must not drop to 2


def seq_blocks(seq_tokens: float, block_tokens: int) -> int:
    """Blocks charged to every running sequence for ``StepCost.kv_tokens_per_seq`` tokens-equivalent (the KV of
    sliding-window layers, at most the window per sequence; rounded up to whole blocks)."""
    return math.ceil(float(seq_tokens) / block_tokens - 1e-9) if seq_tokens > 0 else 0


class KvBlocks:
    """Block accounting of one replica's KV cache (capacity ``capacity_tokens`` // ``block_tokens``)."""

    def __init__(self, capacity_tokens: int, block_tokens: int, slots: int, tokens_per_step: float,
                 seq_tokens: float = 0.0):
        self.block_tokens = int(block_tokens)
        self.seq_blocks = seq_blocks(seq_tokens, self.block_tokens)   # fixed charge of each occupied slot
        self.capacity_blocks = int(capacity_tokens) // self.block_tokens
        self.tps = float(tokens_per_step)
        self.max_slots = int(slots)
        n0 = min(self.max_slots, 64)
        self.base = np.zeros(n0)                         # own tokens held at step ``ref``
        self.ref = np.zeros(n0, dtype=np.int64)          # step at which ``base`` holds
        self.dec = np.zeros(n0)                          # 1.0 for decoding slots, 0.0 otherwise
        self.free_slots = list(range(n0 - 1, -1, -1))
        self.shared_blocks = 0
        self.n = 0              # occupied slots
        self.sum_base = 0.0     # sum of base over occupied slots
        self.n_dec = 0          # decoding slots
        self.sum_dec_ref = 0    # sum of ref over decoding slots
        self.sum_dec_base = 0.0

    # --- slots ------------------------------------------------------------------------------
    def add(self, tokens: float) -> int:
        """A new (prefilling) sequence holding ``tokens`` own tokens; returns its slot."""
        if not self.free_slots:
            self._grow_slots()
        s = self.free_slots.pop()
        self.base[s] = tokens
        self.dec[s] = 0.0
        self.n += 1
        self.sum_base += tokens
        return s

    def _grow_slots(self) -> None:
        n = len(self.base)
        m = min(2 * n, self.max_slots)
        if m <= n:
            raise AssertionError(f"more than {self.max_slots} running sequences (max_num_seqs)")
        self.base = np.concatenate([self.base, np.zeros(m - n)])
        self.ref = np.concatenate([self.ref, np.zeros(m - n, dtype=np.int64)])
        self.dec = np.concatenate([self.dec, np.zeros(m - n)])
        self.free_slots = list(range(m - 1, n - 1, -1))

    def grow(self, slot: int, tokens: float) -> None:
        """A prefilling sequence computed ``tokens`` more tokens (a prefill chunk)."""
        self.base[slot] += tokens
        self.sum_base += tokens

    def to_decoder(self, slot: int, base: float, ref: int) -> None:
        """The sequence decodes from step ``ref`` on, holding ``base`` own tokens during that step."""
        self.sum_base += base - float(self.base[slot])
        self.base[slot] = base
        self.ref[slot] = ref
        self.dec[slot] = 1.0
        self.n_dec += 1
        self.sum_dec_ref += ref
        self.sum_dec_base += base

    def held(self, slot: int, c: int) -> float:
        """Own tokens the sequence in ``slot`` holds during step ``c``."""
        if self.dec[slot]:
            return float(self.base[slot] + math.floor((c - int(self.ref[slot])) * self.tps + _EPS))
        return float(self.base[slot])

    def remove(self, slot: int) -> None:
        """Free the slot and its blocks (completion or preemption)."""
        b = float(self.base[slot])
        self.sum_base -= b
        if self.dec[slot]:
            self.n_dec -= 1
            self.sum_dec_ref -= int(self.ref[slot])
            self.sum_dec_base -= b
        self.base[slot] = 0.0
        self.dec[slot] = 0.0
        self.ref[slot] = 0
        self.n -= 1
        self.free_slots.append(slot)

    # --- occupancy --------------------------------------------------------------------------
    def decode_tokens(self, c: int) -> float:
        """Own tokens of the decoding sequences during step ``c`` (fractional growth not floored)."""
        return self.sum_dec_base + self.tps * (self.n_dec * c - self.sum_dec_ref)

    def held_tokens(self, c: int) -> float:
        """Own tokens of all slots during step ``c`` (an upper bound: fractional growth not floored)."""
        return self.sum_base - self.sum_dec_base + self.decode_tokens(c)

    def blocks_ub(self, c: int) -> float:
        """Upper bound on the blocks in use during step ``c``: ceil(h/B) <= (h + B - 1)/B per slot."""
        b = self.block_tokens
        return (self.held_tokens(c) + self.n * (b - 1)) / b + self.shared_blocks + self.n * self.seq_blocks

    def blocks_at(self, c: int) -> int:
        """Exact blocks in use during step ``c`` (free slots hold 0 tokens, hence 0 blocks)."""
        h = self.base + np.floor((c - self.ref) * self.tps + _EPS) * self.dec
        return int(np.ceil(h / self.block_tokens).sum()) + self.shared_blocks + self.n * self.seq_blocks

    def used_blocks(self, c: int, need: float = 0.0) -> float:
        """Blocks in use during step ``c``: the cheap upper bound when ``need`` more still fit under it,
        else the exact count."""
        ub = self.blocks_ub(c)
        return ub if ub + need <= self.capacity_blocks else self.blocks_at(c)

    def kv_frac(self, c: int) -> float:
        """Share of the cache's tokens in use during step ``c`` (own + shared tokens, not block-rounded)."""
        cap = self.capacity_blocks * self.block_tokens
        fixed = (self.shared_blocks + self.n * self.seq_blocks) * self.block_tokens
        return min(1.0, (self.held_tokens(c) + fixed) / cap)

    def safe_decode_steps(self, c: int, kmax: int) -> int:
        """Largest k <= kmax such that decode steps c .. c+k-1 all fit in the cache (0: step c does not).

        Blocks only grow while the batch is fixed, so it is enough that step c+k-1 fits; the O(1) upper
        bound settles most cases, a binary search over the exact count the rest."""
        cap = self.capacity_blocks
        b = self.block_tokens
        if self.n_dec == 0:
            return kmax if self.used_blocks(c) <= cap else 0
        room = (cap - self.shared_blocks - self.n * self.seq_blocks) * b - self.n * (b - 1) - self.held_tokens(c)
        # steps c .. c+lo-1 fit by the bound
        lo = min(kmax, int(room // (self.n_dec * self.tps)) + 1) if room >= 0 else 0
        if lo >= kmax:
            return kmax
        hi = kmax + 1                                  # invariant: lo fits, hi does not (or is kmax + 1)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.blocks_at(c + mid - 1) <= cap:
                lo = mid
            else:
                hi = mid
        return lo
