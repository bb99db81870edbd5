"""The decoder ``tokenomy calibrate`` times: Llama architecture, random weights, static KV cache.

Written with the kernel list of the ``eager`` recipe (core/graph.py), so that the fit of whole
steps sees the kernels the recipe counts. torch is passed in, never imported here.
"""

from __future__ import annotations

import math
from typing import Any

from .cases import ModelShape


class Decoder:
    """Llama-architecture decoder, random weights, static KV cache; the kernels of the eager recipe:
    RMSNorm in fp32 (8 kernels), fused QKV, rotary (5 kernels each for q and k), KV write (decode),
    SDPA or batched-matmul attention, O, residual add, RMSNorm, fused gate+up, SiLU, multiply, down,
    residual add; then final RMSNorm, LM head on the last positions, argmax."""

    def __init__(self, torch: Any, shape: ModelShape, device: str, dtype: Any):
        self.t, self.c, self.dev, self.dt = torch, shape, device, dtype

        def g(*s: int) -> Any:
            return torch.randn(*s, device=device, dtype=dtype) * 0.02

        def one() -> Any:
            return torch.ones(shape.hidden, device=device, dtype=dtype)
        H = shape.head_dim
        self.emb = g(shape.vocab, shape.hidden)
        self.layers = [dict(n1=one(), n2=one(), qkv=g((shape.heads + 2 * shape.kv_heads) * H, shape.hidden),
                            o=g(shape.hidden, shape.heads * H), gu=g(2 * shape.intermediate, shape.hidden),
                            d=g(shape.hidden, shape.intermediate)) for _ in range(shape.layers)]
        self.norm = one()
        self.head = g(shape.vocab, shape.hidden)
        self.kc: Any = None    # KV cache, bf16[layers, b, kv_heads, ctx, head_dim] once allocated
        self.vc: Any = None

    def _rms(self, x, w):
        xf = x.float()
        return (xf * self.t.rsqrt(xf.pow(2).mean(-1, keepdim=True) + 1e-5)).to(x.dtype) * w

    @staticmethod
    def _rope(x, cos, sin, cat):
        half = x.shape[-1] // 2
        return x * cos + cat((-x[..., half:], x[..., :half]), -1) * sin

    def _angles(self, pos):
        H = self.c.head_dim
        inv = 1.0 / (500000.0 ** (self.t.arange(0, H, 2, device=self.dev, dtype=self.t.float32) / H))
        f = pos.float()[:, None] * inv[None]
        e = self.t.cat((f, f), -1)
        return e.cos().to(self.dt), e.sin().to(self.dt)

    def alloc_cache(self, b: int, ctx: int) -> None:
        c = self.c
        self.kc = self.t.randn(c.layers, b, c.kv_heads, ctx, c.head_dim, device=self.dev, dtype=self.dt)
        self.vc = self.t.randn_like(self.kc)

    def free_cache(self) -> None:
        self.kc = self.vc = None

    def prefill(self, ids):
        t, c = self.t, self.c
        F = t.nn.functional
        b, s = ids.shape
        H = c.head_dim
        x = self.emb[ids]                                              # bf16[b, s, D]
        cos, sin = self._angles(t.arange(s, device=self.dev))
        cos, sin = cos[:, None], sin[:, None]
        for L in self.layers:
            q, k, v = (self._rms(x, L["n1"]) @ L["qkv"].t()).split([c.heads * H, c.kv_heads * H, c.kv_heads * H], -1)
            q = self._rope(q.view(b, s, c.heads, H), cos, sin, t.cat).transpose(1, 2)     # [b, N, s, H]
            k = self._rope(k.view(b, s, c.kv_heads, H), cos, sin, t.cat).transpose(1, 2)  # [b, K, s, H]
            v = v.view(b, s, c.kv_heads, H).transpose(1, 2)
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
            x = x + a.transpose(1, 2).reshape(b, s, c.heads * H) @ L["o"].t()
            gate, up = (self._rms(x, L["n2"]) @ L["gu"].t()).chunk(2, -1)
            x = x + (F.silu(gate) * up) @ L["d"].t()
        return (self._rms(x[:, -1], self.norm) @ self.head.t()).argmax(-1)

    def decode(self, tok, pos: int, impl: str):
        """One step: b sequences, one new token each at position ``pos`` (attention over pos+1 keys)."""
        t, c = self.t, self.c
        F = t.nn.functional
        b = tok.shape[0]
        H, G = c.head_dim, c.heads // c.kv_heads
        x = self.emb[tok]                                              # bf16[b, D]
        cos, sin = self._angles(t.full((1,), pos, device=self.dev))
        for li, L in enumerate(self.layers):
            q, k, v = (self._rms(x, L["n1"]) @ L["qkv"].t()).split([c.heads * H, c.kv_heads * H, c.kv_heads * H], -1)
            q = self._rope(q.view(b, c.heads, H), cos, sin, t.cat)
            k = self._rope(k.view(b, c.kv_heads, H), cos, sin, t.cat)
            self.kc[li, :b, :, pos] = k
            self.vc[li, :b, :, pos] = v.view(b, c.kv_heads, H)
            K, V = self.kc[li, :b, :, : pos + 1], self.vc[li, :b, :, : pos + 1]     # [b, K, pos+1, H]
            if impl == "bmm":
                scores = (q.view(b, c.kv_heads, G, H) @ K.transpose(-1, -2)).float() / math.sqrt(H)
                a = t.softmax(scores, -1).to(self.dt) @ V
            else:
                a = F.scaled_dot_product_attention(q.view(b, c.heads, 1, H), K, V, enable_gqa=True)
            x = x + a.reshape(b, c.heads * H) @ L["o"].t()
            gate, up = (self._rms(x, L["n2"]) @ L["gu"].t()).chunk(2, -1)
            x = x + (F.silu(gate) * up) @ L["d"].t()
        return (self._rms(x, self.norm) @ self.head.t()).argmax(-1)
