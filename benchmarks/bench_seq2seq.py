"""Training-step throughput: transmodal's seq2seq ``Transformer`` vs a ``torch.nn.Transformer`` reference.

Both models have identical sizes and structure (post-norm, ReLU, same dropout, tied embedding /
generator with bias, √d-scaled embeddings + sinusoidal positions + dropout, Xavier init), the same
batch, the same loss (label-smoothed NLL, ε = 0.1, padding ignored), the same AdamW optimiser and the
same thread count. Their timed steps are interleaved in one process (A B B A A B …) so that machine
noise hits both alike; the headline figure is the median of the paired per-block ratios.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_seq2seq.py --config small --batch 64 --steps 20

Before timing, the reference is loaded with our weights and both are run in eval mode on the batch;
the maximum difference of their log-probabilities is printed (it should be ~1e-5), which checks that
the reference really computes the same function with the same masks.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

import torch
from torch import Tensor, nn
import torch.nn.functional as F

from transmodal.models.seq2seq import Transformer, config, count_parameters
from transmodal.nn import label_smoothed_nll

PAD, BOS = 0, 1


# ----------------------------------------------------------------------------------------------------
# Reference model: torch.nn.Transformer with the same wrapper (embedding, positions, tied generator)
# ----------------------------------------------------------------------------------------------------
def _sinusoids(length: int, d: int) -> Tensor:
    t = torch.arange(length, dtype=torch.float64)[:, None]
    div = torch.pow(10000.0, torch.arange(0, d, 2, dtype=torch.float64) / d)
    pe = torch.zeros(length, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(t / div)
    pe[:, 1::2] = torch.cos(t / div)
    return pe.float()


class RefTransformer(nn.Module):
    def __init__(self, vocab: int, d_model: int, n_heads: int, n_enc: int, n_dec: int, d_ff: int,
                 dropout: float, attn_dropout: float, max_len: int):
        super().__init__()
        self.d_model = d_model
        self.embed = nn.Embedding(vocab, d_model, padding_idx=PAD)
        nn.init.normal_(self.embed.weight, std=d_model**-0.5)
        with torch.no_grad():
            self.embed.weight[PAD].zero_()
        self.register_buffer("pe", _sinusoids(max_len, d_model), persistent=False)
        self.dropout = nn.Dropout(dropout)
        self.transformer = nn.Transformer(
            d_model=d_model, nhead=n_heads, num_encoder_layers=n_enc, num_decoder_layers=n_dec,
            dim_feedforward=d_ff, dropout=dropout, activation="relu", batch_first=True, norm_first=False,
        )
        # nn.Transformer always appends a final LayerNorm to each stack; the paper's post-norm model
        # (and transmodal with norm_first=False) has none, so drop them to keep the parameter count equal.
        self.transformer.encoder.norm = None
        self.transformer.decoder.norm = None
        # nn.MultiheadAttention uses the layer's dropout on the attention weights; transmodal has a
        # separate attn_dropout (0.0 in every CONFIG). Match it.
        for m in self.transformer.modules():
            if isinstance(m, nn.MultiheadAttention):
                m.dropout = attn_dropout
        self.generator = nn.Linear(d_model, vocab, bias=True)
        self.generator.weight = self.embed.weight  # tied

    def _embed(self, ids: Tensor) -> Tensor:
        x = self.embed(ids) * math.sqrt(self.d_model)
        return self.dropout(x + self.pe[: ids.shape[1]])

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        src_kpm = src == PAD  # True = ignore (torch convention)
        tgt_kpm = tgt_in == PAD
        t = tgt_in.shape[1]
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool, device=src.device), diagonal=1)
        h = self.transformer(
            self._embed(src), self._embed(tgt_in),
            tgt_mask=causal,
            src_key_padding_mask=src_kpm, tgt_key_padding_mask=tgt_kpm, memory_key_padding_mask=src_kpm,
            tgt_is_causal=True,
        )
        return F.log_softmax(self.generator(h), dim=-1)


@torch.no_grad()
def copy_weights(ours: Transformer, ref: RefTransformer) -> None:
    """Load transmodal's weights into the reference (used only for the equivalence check)."""
    ref.embed.weight.copy_(ours.src_embed.weight)
    ref.generator.bias.copy_(ours.generator.proj.bias)

    def lin(dst: nn.Linear, src: nn.Linear):
        dst.weight.copy_(src.weight); dst.bias.copy_(src.bias)

    def ln(dst: nn.LayerNorm, src: nn.LayerNorm):
        dst.weight.copy_(src.weight); dst.bias.copy_(src.bias)

    for a, b in zip(ours.encoder.layers, ref.transformer.encoder.layers):
        b.self_attn.in_proj_weight.copy_(a.self_attn.qkv_proj.weight)
        b.self_attn.in_proj_bias.copy_(a.self_attn.qkv_proj.bias)
        lin(b.self_attn.out_proj, a.self_attn.out_proj)
        lin(b.linear1, a.ff.w1); lin(b.linear2, a.ff.w2)
        ln(b.norm1, a.res_attn.norm); ln(b.norm2, a.res_ff.norm)
    for a, b in zip(ours.decoder.layers, ref.transformer.decoder.layers):
        b.self_attn.in_proj_weight.copy_(a.self_attn.qkv_proj.weight)
        b.self_attn.in_proj_bias.copy_(a.self_attn.qkv_proj.bias)
        lin(b.self_attn.out_proj, a.self_attn.out_proj)
        b.multihead_attn.in_proj_weight.copy_(torch.cat([a.cross_attn.q_proj.weight, a.cross_attn.kv_proj.weight]))
        b.multihead_attn.in_proj_bias.copy_(torch.cat([a.cross_attn.q_proj.bias, a.cross_attn.kv_proj.bias]))
        lin(b.multihead_attn.out_proj, a.cross_attn.out_proj)
        lin(b.linear1, a.ff.w1); lin(b.linear2, a.ff.w2)
        ln(b.norm1, a.res_self.norm); ln(b.norm2, a.res_cross.norm); ln(b.norm3, a.res_ff.norm)


# ----------------------------------------------------------------------------------------------------
def make_batch(batch: int, src_len: int, tgt_len: int, vocab: int, gen: torch.Generator):
    """Random ids in [3, vocab) with right padding: lengths uniform in [len/2, len]."""
    def padded(n: int, length: int, bos: bool) -> Tensor:
        ids = torch.randint(3, vocab, (n, length), generator=gen)
        lens = torch.randint(max(1, length // 2), length + 1, (n,), generator=gen)
        lens[0] = length  # at least one full row
        ids[torch.arange(length)[None, :] >= lens[:, None]] = PAD
        if bos:
            ids = torch.cat([torch.full((n, 1), BOS), ids], dim=1)
        return ids

    src = padded(batch, src_len, bos=False)
    tgt = padded(batch, tgt_len, bos=True)  # (B, T+1): BOS y_1 … y_T
    return src, tgt[:, :-1].contiguous(), tgt[:, 1:].contiguous()


class Trainer:
    def __init__(self, name: str, model: nn.Module, batch, lr: float = 1e-4):
        self.name, self.model, self.batch = name, model, batch
        self.opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), eps=1e-9, weight_decay=0.0, foreach=True)
        self.times: list[float] = []

    def step(self) -> float:
        src, tgt_in, tgt_out = self.batch
        t0 = time.perf_counter()
        self.opt.zero_grad(set_to_none=True)
        logp = self.model(src, tgt_in)
        loss, _ = label_smoothed_nll(logp, tgt_out, epsilon=0.1, ignore_index=PAD)
        loss.backward()
        self.opt.step()
        dt = time.perf_counter() - t0
        self.last_loss = loss.item()
        return dt


def machine_load() -> str:
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="small")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--src-len", type=int, default=16)
    p.add_argument("--tgt-len", type=int, default=16)
    p.add_argument("--steps", type=int, default=20, help="timed steps per model")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per model")
    p.add_argument("--block", type=int, default=1, help="steps per model per interleaved block (order alternates ABBA)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--vocab", type=int, default=8000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-check", action="store_true", help="skip the eval-mode equivalence check")
    p.add_argument("--json", metavar="PATH", help="write the figures to this JSON file")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    max_len = max(args.src_len, args.tgt_len) + 1
    cfg = config(args.config, src_vocab=args.vocab, tgt_vocab=args.vocab, shared_vocab=True, positions="sinusoidal",
                 norm_first=False, activation="relu", max_len=max(256, max_len))
    d_ff = cfg.d_ff or 4 * cfg.d_model

    ours = Transformer(cfg)
    ref = RefTransformer(args.vocab, cfg.d_model, cfg.n_heads, cfg.n_enc_layers, cfg.n_dec_layers, d_ff,
                         cfg.dropout, cfg.attn_dropout, max(256, max_len))
    n_ours, n_ref = count_parameters(ours), count_parameters(ref)

    gen = torch.Generator().manual_seed(args.seed)
    batch = make_batch(args.batch, args.src_len, args.tgt_len, args.vocab, gen)
    src, tgt_in, tgt_out = batch
    tokens = tgt_in.numel()  # target positions per step (padding included)
    real_tokens = int((tgt_out != PAD).sum())

    print(f"torch {torch.__version__} | threads {torch.get_num_threads()} | CPU {cpu_model()} | load {machine_load()}")
    print(f"config {args.config}: d_model={cfg.d_model} heads={cfg.n_heads} layers={cfg.n_enc_layers}+{cfg.n_dec_layers} "
          f"d_ff={d_ff} dropout={cfg.dropout} attn_dropout={cfg.attn_dropout} vocab={args.vocab} (shared, tied)")
    print(f"batch {args.batch} x src {args.src_len} / tgt {args.tgt_len}: {tokens} target positions/step, {real_tokens} non-pad")
    print(f"params: transmodal {n_ours:,} | torch.nn.Transformer ref {n_ref:,}")
    assert n_ours == n_ref, f"parameter counts differ: {n_ours} vs {n_ref}"

    max_diff = None
    if not args.no_check:
        copy_weights(ours, ref)
        ours.eval(); ref.eval()
        with torch.enable_grad():  # grad enabled keeps torch's inference fast path (nested tensors) out of the way
            a, b = ours(src, tgt_in), ref(src, tgt_in)
        max_diff = (a - b).abs().max().item()
        print(f"equivalence check (eval mode, same weights): max |logp_ours - logp_ref| = {max_diff:.2e}")
        assert max_diff < 1e-3, "reference does not compute the same function"
        # timing then starts from these identical weights (copied by value, no shared storage)
        ours.train(); ref.train()

    runs = [Trainer("transmodal", ours, batch), Trainer("torch.nn.Transformer", ref, batch)]
    for r in runs:
        for _ in range(args.warmup):
            r.step()

    n_blocks = math.ceil(args.steps / args.block)
    block_ms = {r.name: [] for r in runs}
    for i in range(n_blocks):
        order = runs if i % 2 == 0 else runs[::-1]
        for r in order:
            ts = [r.step() for _ in range(args.block)]
            r.times.extend(ts)
            block_ms[r.name].append(1e3 * statistics.median(ts))
    paired = [rf / us for us, rf in zip(block_ms["transmodal"], block_ms["torch.nn.Transformer"])]

    rows = []
    for r, n in zip(runs, (n_ours, n_ref)):
        med = statistics.median(r.times)
        rows.append({"model": r.name, "params": n, "median_ms": 1e3 * med, "min_ms": 1e3 * min(r.times),
                     "tokens_per_s": tokens / med, "final_loss": r.last_loss, "steps": len(r.times)})
    ratio_of_medians = rows[0]["tokens_per_s"] / rows[1]["tokens_per_s"]
    ratio_paired = statistics.median(paired)

    print()
    print(f"{'model':<22} {'params':>12} {'median ms/step':>15} {'min ms':>9} {'tokens/s':>10}")
    for row in rows:
        print(f"{row['model']:<22} {row['params']:>12,} {row['median_ms']:>15.1f} {row['min_ms']:>9.1f} {row['tokens_per_s']:>10.0f}")
    print(f"ratio ours/reference (tokens/s): {ratio_of_medians:.3f} (ratio of medians), "
          f"{ratio_paired:.3f} (median of {len(paired)} paired interleaved blocks)")
    print(f"load after run: {machine_load()}")

    result = {
        "config": args.config, "d_model": cfg.d_model, "n_heads": cfg.n_heads, "layers": [cfg.n_enc_layers, cfg.n_dec_layers],
        "d_ff": d_ff, "vocab": args.vocab, "batch": args.batch, "src_len": args.src_len, "tgt_len": args.tgt_len,
        "steps": args.steps, "warmup": args.warmup, "block": args.block, "threads": torch.get_num_threads(),
        "torch": torch.__version__, "cpu": cpu_model(), "python": sys.version.split()[0], "loadavg_end": machine_load(),
        "tokens_per_step": tokens, "nonpad_tokens_per_step": real_tokens, "equivalence_max_abs_diff": max_diff,
        "rows": rows, "ratio_ours_over_ref_medians": ratio_of_medians, "ratio_ours_over_ref_paired": ratio_paired,
        "paired_ratios": paired,
        "step_ms": {r.name: [1e3 * t for t in r.times] for r in runs},
    }
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
        print(f"wrote {args.json}")
    return result


if __name__ == "__main__":
    main()
