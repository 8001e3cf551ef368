"""GPT: training throughput against nanoGPT-style reference math, and generation speed with / without the KV cache.

1. Training step (forward → cross-entropy → backward → AdamW step) of ``transmodal.models.gpt.GPT`` and of
   a reference written here in the nanoGPT manner: one ``Block`` class with ``ln_1 → c_attn (fused q,k,v)
   → F.scaled_dot_product_attention(is_causal=True) → c_proj`` and ``ln_2 → c_fc → GELU → c_proj``,
   learned ``wte``/``wpe``, ``ln_f`` and an ``lm_head`` tied to ``wte``. Same sizes (parameter counts are
   asserted equal), dropout 0, same batch, same optimiser, same thread count. The reference is loaded with
   our weights first and both are evaluated on the batch: the maximum logit difference is printed (it
   should be ~1e-5) — proof that both compute the same function. Timed steps alternate A B B A … in one
   process; the headline is the median of the paired per-block ratios (robust to load bursts).
   Each step is timed twice: wall clock, and CPU time of this process (``time.process_time``, summed over
   its threads). On a shared machine where other jobs take the cores, CPU time is the figure that
   still measures the work done: with ``--threads 1``, tokens per CPU-second is the single-core speed.
2. Generation (batch 1, greedy) of ``--new-tokens`` tokens after a prompt of 256 and 1024 tokens, with the
   cache (prompt read once, then one position per step) and without (the whole context re-read every
   step). tokens/s = new tokens / time (wall and CPU), prompt processing included.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_gpt.py --steps 10 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from transmodal.models.gpt import GPT, GPTConfig, generate


# ----------------------------------------------------------------------------------------------------
# Reference: nanoGPT-style GPT, written for this benchmark
# ----------------------------------------------------------------------------------------------------
class RefAttention(nn.Module):
    def __init__(self, d: int, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)
        q, k, v = (z.view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(b, t, d))


class RefBlock(nn.Module):
    def __init__(self, d: int, n_heads: int, d_ff: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = RefAttention(d, n_heads)
        self.ln_2 = nn.LayerNorm(d)
        self.c_fc = nn.Linear(d, d_ff)
        self.c_proj = nn.Linear(d_ff, d)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.c_proj(F.gelu(self.c_fc(self.ln_2(x))))


class RefGPT(nn.Module):
    def __init__(self, c: GPTConfig):
        super().__init__()
        d_ff = c.d_ff or 4 * c.d_model
        self.wte = nn.Embedding(c.vocab_size, c.d_model)
        self.wpe = nn.Embedding(c.max_len, c.d_model)
        self.h = nn.ModuleList(RefBlock(c.d_model, c.n_heads, d_ff) for _ in range(c.n_layers))
        self.ln_f = nn.LayerNorm(c.d_model)
        self.lm_head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1], device=ids.device))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def load_ours_into_reference(ours: GPT, ref: RefGPT) -> None:
    s = ours.state_dict()
    with torch.no_grad():
        ref.wte.weight.copy_(s["tokens.emb.weight"])
        ref.wpe.weight.copy_(s["positions.table"])
        for i, block in enumerate(ref.h):
            p = f"blocks.layers.{i}."
            pairs = [
                (block.ln_1, "res_attn.norm"), (block.attn.c_attn, "self_attn.qkv_proj"), (block.attn.c_proj, "self_attn.out_proj"),
                (block.ln_2, "res_ff.norm"), (block.c_fc, "ff.w1"), (block.c_proj, "ff.w2"),
            ]
            for module, name in pairs:
                module.weight.copy_(s[p + name + ".weight"])
                module.bias.copy_(s[p + name + ".bias"])
        ref.ln_f.weight.copy_(s["blocks.norm.weight"])
        ref.ln_f.bias.copy_(s["blocks.norm.bias"])


# ----------------------------------------------------------------------------------------------------
def train_step(model, opt, x, y) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one optimiser step."""
    t, c = time.perf_counter(), time.process_time()
    logits = model(x)
    loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return time.perf_counter() - t, time.process_time() - c


@torch.no_grad()
def generation_speed(model: GPT, context: int, new_tokens: int, use_cache: bool) -> tuple[float, float]:
    """(new tokens per wall second, per CPU second)."""
    prompt = torch.randint(4, model.config.vocab_size, (1, context), generator=torch.Generator().manual_seed(context))
    t, c = time.perf_counter(), time.process_time()
    out = generate(model, prompt, new_tokens, temperature=0.0, use_cache=use_cache)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    assert out.shape[1] == context + new_tokens
    return new_tokens / wall, new_tokens / cpu


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=8000)
    ap.add_argument("--context", type=int, default=256, help="training sequence length")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=10, help="timed training steps per model")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--gen-contexts", type=int, nargs="+", default=[256, 1024])
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    max_len = max([args.context, *(c + args.new_tokens for c in args.gen_contexts)])
    cfg = GPTConfig(vocab_size=args.vocab, d_model=args.d_model, n_heads=args.heads, n_layers=args.layers,
                    d_ff=4 * args.d_model, dropout=0.0, attn_dropout=0.0, max_len=max_len)
    torch.manual_seed(0)
    ours = GPT(cfg)
    ref = RefGPT(cfg)
    load_ours_into_reference(ours, ref)
    n_ours, n_ref = (sum(p.numel() for p in m.parameters()) for m in (ours, ref))
    assert n_ours == n_ref, (n_ours, n_ref)

    g = torch.Generator().manual_seed(1)
    batch = torch.randint(0, args.vocab, (args.batch, args.context + 1), generator=g)
    x, y = batch[:, :-1], batch[:, 1:]
    ours.eval(), ref.eval()
    with torch.no_grad():
        max_diff = float((ours(x) - ref(x)).abs().max())
    print(f"max |logit difference| ours vs reference (same weights): {max_diff:.2e}")
    ours.train(), ref.train()

    opts = {name: torch.optim.AdamW(m.parameters(), lr=1e-4) for name, m in (("ours", ours), ("ref", ref))}
    models = {"ours": ours, "ref": ref}
    for _ in range(args.warmup):
        for name in models:
            train_step(models[name], opts[name], x, y)
    times = {"ours": [], "ref": []}
    load_before = os.getloadavg()[0]
    for i in range(args.steps):
        order = ("ours", "ref") if i % 2 == 0 else ("ref", "ours")
        for name in order:
            times[name].append(train_step(models[name], opts[name], x, y))
    load_after = os.getloadavg()[0]
    tokens = args.batch * args.context
    train = {}
    for clock, k in (("wall", 0), ("cpu", 1)):
        row = {}
        for name, t in times.items():
            med = statistics.median(s[k] for s in t)
            row[name] = {"median_ms": round(1000 * med, 1), "tokens_per_s": round(tokens / med, 1)}
        ratios = [r[k] / o[k] for o, r in zip(times["ours"], times["ref"])]
        row["paired_median_ratio_ours_over_ref"] = round(statistics.median(ratios), 3)
        train[clock] = row

    ours.eval()
    gen = {}
    for context in args.gen_contexts:
        row = {}
        for use_cache in (True, False, True, False):  # interleaved twice; keep the better of each
            key = "cached" if use_cache else "uncached"
            wall, cpu = generation_speed(ours, context, args.new_tokens, use_cache)
            row[key + "_wall"] = max(row.get(key + "_wall", 0.0), round(wall, 1))
            row[key + "_cpu"] = max(row.get(key + "_cpu", 0.0), round(cpu, 1))
        row["speedup_cpu"] = round(row["cached_cpu"] / row["uncached_cpu"], 2)
        gen[f"context_{context}"] = row

    result = {
        "machine": cpu_name(),
        "torch": torch.__version__,
        "threads": args.threads,
        "load_avg_1min": [round(load_before, 2), round(load_after, 2)],
        "config": {"d_model": args.d_model, "layers": args.layers, "heads": args.heads, "vocab": args.vocab,
                   "context": args.context, "batch": args.batch, "parameters": n_ours},
        "max_logit_diff": max_diff,
        "train_step": train,
        "generation_tokens_per_s": gen | {"new_tokens": args.new_tokens},
    }
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
