"""Training-step throughput: transmodal's ``VisionTransformer`` vs a reference ViT at the same configuration.

The reference is timm's ``VisionTransformer`` when timm can be imported; otherwise (timm needs
torchvision, which is not installed here) a straightforward ViT written below with the same math as
timm's: a P×P stride-P ``Conv2d`` patch embedding, [class] token, learned positions, pre-norm blocks
with a fused qkv ``Linear`` → ``F.scaled_dot_product_attention`` → proj, an MLP Linear → GELU →
Linear, final LayerNorm, linear head. Both get the same input normalisation, dropout 0, drop path 0.

Before timing, the reference is loaded with our weights and both are run in eval mode on the batch:
the maximum difference of their logits is printed (~1e-6), which checks that the reference computes
the same function. Timed steps (forward → cross-entropy → backward → AdamW step) alternate A B B A …
in one process, so machine noise hits both alike; the headline is the median of paired ratios. Each
step is timed twice: wall clock, and CPU time of the process (``time.process_time``), which does not
count the time other jobs hold the cores — on a shared machine the CPU-time ratio is the steadier one
(with one thread it is the work done; with several it also counts threads spinning while they wait).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_vit.py --config fashion-p4 --batch 128 --steps 10
    PYTHONPATH=src .venv/bin/python benchmarks/bench_vit.py --config tiny-16 --batch 16 --steps 6
    PYTHONPATH=src python3 benchmarks/bench_vit.py --device cuda --amp --config base-16 --batch 64 --steps 30

On CUDA each step is bracketed by ``torch.cuda.synchronize()``, so the wall clock covers the GPU work;
``--amp`` runs both models under bf16 autocast (as the trainer does on CUDA). CPU time means little there.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from transmodal.models.vit import VisionTransformer, config, count_parameters


# ----------------------------------------------------------------------------------------------------
# Reference: a plain ViT with timm's layout (used when timm is not importable)
# ----------------------------------------------------------------------------------------------------
class RefAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(b, n, c))


class RefBlock(nn.Module):
    def __init__(self, dim: int, heads: int, hidden: int, eps: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = RefAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(self.act(self.fc1(self.norm2(x))))


class RefViT(nn.Module):
    def __init__(self, image: int, chans: int, patch: int, dim: int, depth: int, heads: int, hidden: int,
                 classes: int, pool: str, eps: float, mean: list[float], std: list[float]):
        super().__init__()
        self.pool = pool
        self.patch_embed = nn.Conv2d(chans, dim, patch, stride=patch)
        n = (image // patch) ** 2 + (pool == "cls")
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if pool == "cls" else None
        self.pos_embed = nn.Parameter(torch.randn(1, n, dim) * 0.02)
        self.blocks = nn.Sequential(*[RefBlock(dim, heads, hidden, eps) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.head = nn.Linear(dim, classes)
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        x = self.patch_embed((x - self.mean) / self.std).flatten(2).transpose(1, 2)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.norm(self.blocks(x + self.pos_embed))
        return self.head(x[:, 0] if self.pool == "cls" else x.mean(1))


@torch.no_grad()
def copy_into_ref(ours: VisionTransformer, ref: RefViT) -> None:
    c = ours.config
    ref.patch_embed.weight.copy_(ours.tokenizer.proj.weight.view(c.d_model, c.in_chans, c.patch_size, c.patch_size))
    ref.patch_embed.bias.copy_(ours.tokenizer.proj.bias)
    if ref.cls_token is not None:
        ref.cls_token.copy_(ours.cls_token)
    ref.pos_embed.copy_(ours.pos.table[None])
    pairs = [(ref.norm, ours.norm), (ref.head, ours.head)]
    for a, b in zip(ours.blocks, ref.blocks):
        pairs += [(b.norm1, a.res_attn.norm), (b.attn.qkv, a.attn.qkv_proj), (b.attn.proj, a.attn.out_proj),
                  (b.norm2, a.res_mlp.norm), (b.fc1, a.mlp.w1), (b.fc2, a.mlp.w2)]
    for dst, src in pairs:
        dst.weight.copy_(src.weight)
        dst.bias.copy_(src.bias)


def build_reference(ours: VisionTransformer):
    """(name, model): timm's VisionTransformer if importable (weights copied), else RefViT."""
    c = ours.config
    hidden = c.d_ff or 4 * c.d_model
    try:
        import timm  # noqa: F401
        from timm.models.vision_transformer import VisionTransformer as TimmViT
    except Exception:
        ref = RefViT(c.image_size, c.in_chans, c.patch_size, c.d_model, c.n_layers, c.n_heads, hidden, c.num_classes,
                     c.pool, c.norm_eps, c.pixel_mean, c.pixel_std)
        copy_into_ref(ours, ref)
        return "reference ViT (in benchmark)", ref, False
    timm_model = TimmViT(img_size=c.image_size, patch_size=c.patch_size, in_chans=c.in_chans, num_classes=c.num_classes,
                         embed_dim=c.d_model, depth=c.n_layers, num_heads=c.n_heads, mlp_ratio=hidden / c.d_model,
                         class_token=c.pool == "cls", global_pool="token" if c.pool == "cls" else "avg",
                         fc_norm=False)
    return "timm VisionTransformer", timm_model, True


class Runner:
    def __init__(self, name: str, model: nn.Module, batch, normalise: tuple[Tensor, Tensor] | None = None, amp: bool = False):
        self.name, self.model, self.batch, self.normalise, self.amp = name, model, batch, normalise, amp
        self.cuda = batch[0].is_cuda
        self.opt = torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=True)
        self.times: list[float] = []
        self.cpu_times: list[float] = []

    def step(self) -> tuple[float, float]:
        x, y = self.batch
        if self.cuda:
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        self.opt.zero_grad(set_to_none=True)
        if self.normalise is not None:
            x = (x - self.normalise[0]) / self.normalise[1]
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.amp and self.cuda):
            loss = F.cross_entropy(self.model(x).float(), y)
        loss.backward()
        self.opt.step()
        self.last_loss = loss.item()  # waits for the GPU as well
        return time.perf_counter() - t0, time.process_time() - c0


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
    p.add_argument("--config", default="fashion-p4", help="a patch/pixel configuration of transmodal.models.vit.CONFIGS")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=10, help="timed steps per model")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps per model")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--amp", action="store_true", help="bf16 autocast on CUDA (both models)")
    p.add_argument("--json", metavar="PATH", help="write the figures to this JSON file")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cfg = config(args.config, dropout=0.0, attn_dropout=0.0, drop_path=0.0, head_hidden=0)
    if cfg.tokens == "conv":
        raise SystemExit("the reference has no convolutional stem: choose a patch or pixel configuration")
    ours = VisionTransformer(cfg)
    ref_name, ref, is_timm = build_reference(ours)
    gen = torch.Generator().manual_seed(args.seed)
    x = torch.rand(args.batch, cfg.in_chans, cfg.image_size, cfg.image_size, generator=gen)
    y = torch.randint(0, cfg.num_classes, (args.batch,), generator=gen)
    n_ours, n_ref = count_parameters(ours), count_parameters(ref)
    print(f"torch {torch.__version__} | threads {torch.get_num_threads()} | CPU {cpu_model()} | load {machine_load()}")
    print(f"config {args.config}: {cfg.image_size}px, {cfg.tokens} {cfg.patch_size}, d={cfg.d_model}, layers={cfg.n_layers}, "
          f"heads={cfg.n_heads}, d_ff={cfg.d_ff or 4 * cfg.d_model}, pool={cfg.pool}; batch {args.batch} × {ours.num_tokens()} tokens")
    print(f"params: transmodal {n_ours:,} | {ref_name} {n_ref:,}")

    max_diff = None
    normalise = None
    if is_timm:  # timm's model has no input normalisation inside: do it outside, for both alike
        normalise = (ours.pixel_mean, ours.pixel_std)
    else:
        ours.eval(); ref.eval()
        with torch.no_grad():
            max_diff = (ours(x) - ref(x)).abs().max().item()
        print(f"equivalence check (eval mode, same weights): max |logits_ours - logits_ref| = {max_diff:.2e}")
        assert max_diff < 1e-4, "the reference does not compute the same function"
        ours.train(); ref.train()

    device = torch.device(args.device)
    ours.to(device), ref.to(device)
    x, y = x.to(device), y.to(device)
    if normalise is not None:
        normalise = (normalise[0].to(device), normalise[1].to(device))
    if device.type == "cuda":
        print(f"device {torch.cuda.get_device_name(device)}{' | bf16 autocast' if args.amp else ''}")
    runs = [Runner("transmodal", ours, (x, y), amp=args.amp), Runner(ref_name, ref, (x, y), normalise, amp=args.amp)]
    for r in runs:
        for _ in range(args.warmup):
            r.step()
    paired, paired_cpu = [], []
    for i in range(args.steps):
        order = runs if i % 2 == 0 else runs[::-1]
        t = {r.name: r.step() for r in order}
        for r in runs:
            r.times.append(t[r.name][0])
            r.cpu_times.append(t[r.name][1])
        paired.append(t[ref_name][0] / t["transmodal"][0])
        paired_cpu.append(t[ref_name][1] / t["transmodal"][1])

    rows = []
    for r, n in zip(runs, (n_ours, n_ref)):
        med, cpu = statistics.median(r.times), statistics.median(r.cpu_times)
        rows.append({"model": r.name, "params": n, "median_ms": 1e3 * med, "min_ms": 1e3 * min(r.times),
                     "median_cpu_ms": 1e3 * cpu, "min_cpu_ms": 1e3 * min(r.cpu_times),
                     "images_per_s": args.batch / med, "images_per_cpu_s": args.batch / cpu, "final_loss": r.last_loss})
    ratio, ratio_cpu = statistics.median(paired), statistics.median(paired_cpu)
    print(f"\n{'model':<30} {'params':>12} {'wall ms/step':>13} {'min':>8} {'CPU ms/step':>12} {'min':>8} {'images/CPU-s':>13}")
    for row in rows:
        print(f"{row['model']:<30} {row['params']:>12,} {row['median_ms']:>13.1f} {row['min_ms']:>8.1f} "
              f"{row['median_cpu_ms']:>12.1f} {row['min_cpu_ms']:>8.1f} {row['images_per_cpu_s']:>13.1f}")
    print(f"ratio ours/reference, median of {len(paired)} paired interleaved steps: {ratio:.3f} (wall clock), "
          f"{ratio_cpu:.3f} (CPU time)")
    print(f"load after run: {machine_load()}")
    result = {
        "config": args.config, "model_config": cfg.__dict__, "batch": args.batch, "steps": args.steps, "threads": args.threads,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu", "amp": args.amp and device.type == "cuda",
        "torch": torch.__version__, "cpu": cpu_model(), "python": sys.version.split()[0], "reference": ref_name,
        "equivalence_max_abs_diff": max_diff, "rows": rows, "ratio_ours_over_ref_paired": ratio, "paired_ratios": paired,
        "ratio_ours_over_ref_paired_cpu": ratio_cpu, "paired_ratios_cpu": paired_cpu,
        "step_ms": {r.name: [1e3 * t for t in r.times] for r in runs},
        "step_cpu_ms": {r.name: [1e3 * t for t in r.cpu_times] for r in runs},
        "loadavg_end": machine_load(),
    }
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
        print(f"wrote {args.json}")
    return result


if __name__ == "__main__":
    main()
