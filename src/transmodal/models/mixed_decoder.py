r"""One decoder over text and image tokens (the CM3Leon idea at our scale): GPT over a mixed vocabulary.

The vocabulary is three ranges of ids: 4 special tokens, W text words, K image codes::

    0 <pad>   1 <bos>   2 <boi> (begin image)   3 <eoi> (end image)
    4 … 4+W−1            words of the text vocabulary (``config.words``)
    4+W … 4+W+K−1        image codes: k-means centres of 4×4 patches (:mod:`transmodal.vision.image_tokens`)

An image is the 49 codes of its 7×7 patches in raster order between ``<boi>`` and ``<eoi>``. Tasks
are sequences; the two the recipe trains are::

    caption → image:   <bos> a dark ankle boot <boi> c₁ … c₄₉ <eoi>
    image + edit:      <bos> <boi> c₁ … c₄₉ <eoi> mirror it <boi> c′₁ … c′₄₉ <eoi>

and one causal transformer models every token given those before it,
p(s) = Π_t p(s_t | s_<t) (:class:`~transmodal.models.gpt.GPT`, unchanged: pre-norm blocks, tied output
matrix, learned absolute positions, KV-cache decoding). The only addition is a **slot embedding**: the
input vector of token s_t is

    x_t = E[s_t] + P[t] + S[slot_t],    slot_t = t − (position of the latest <boi>)  inside an image (1 … 49),
                                         slot_t = 0 elsewhere (text, specials, <eoi>)

so an image code knows which patch of the 7×7 grid it is, wherever the image starts (captions have
different lengths, an edited image starts after the source image). slot_t depends on s_≤t only, so the
model stays causal. The slot term has its own dropout mask (the configurations here use no dropout).

Generation (:func:`draw_images`) is constrained by position: after a ``<boi>`` the next 49 tokens are
drawn from the image-code range only (temperature and top-k/top-p of :func:`~transmodal.models.gpt.sample_next`
applied to those K logits), so the output is always a whole image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor, nn

from transmodal.models.gpt import GPT, GPTConfig, sample_next
from transmodal.models.registry import register
from transmodal.nn import KVCache
from transmodal.vision.image_tokens import decode_codes, encode_images
from transmodal.vision.patching import grid_size

SPECIALS = ("<pad>", "<bos>", "<boi>", "<eoi>")
PAD, BOS, BOI, EOI = range(len(SPECIALS))


@dataclass
class MixedDecoderConfig(GPTConfig):
    words: list[str] = field(default_factory=list)  # text vocabulary: ids 4 … 4+W−1
    codes: int = 256  # image codebook size: ids 4+W … 4+W+K−1
    patch: int = 4  # image tokens are codes of patch×patch pixel patches
    image_size: int = 28  # square grey images
    vocab_size: int = 0  # derived: 4 + W + K (a saved value must agree)
    max_len: int = 112  # an edit sequence is 1 + 51 + instruction + 51 tokens
    pad_id: int = PAD
    eos_id: int = EOI

    def __post_init__(self) -> None:
        if len(set(self.words)) != len(self.words) or any(not w or w != w.strip() for w in self.words):
            raise ValueError("words must be distinct non-empty strings without surrounding spaces")
        if self.codes < 2:
            raise ValueError(f"codes={self.codes}: the image codebook needs at least 2 entries")
        grid_size(self.image_size, self.image_size, self.patch)
        total = len(SPECIALS) + len(self.words) + self.codes
        if self.vocab_size not in (0, total):
            raise ValueError(f"vocab_size={self.vocab_size} but 4 specials + {len(self.words)} words + {self.codes} codes = {total}")
        self.vocab_size = total
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")


CONFIGS: dict[str, MixedDecoderConfig] = {
    # CPU-sized: 0.85M parameters with 256 codes (about 0.5 s of one CPU thread per training step of 64 sequences).
    "small": MixedDecoderConfig(d_model=128, n_heads=4, n_layers=4, d_ff=512, dropout=0.0),
    "base": MixedDecoderConfig(d_model=192, n_heads=6, n_layers=4, d_ff=768, dropout=0.0),
    # For a few minutes of a shared CPU: 0.2M parameters.
    "mini": MixedDecoderConfig(d_model=64, n_heads=4, n_layers=3, d_ff=256, dropout=0.0),
    "tiny": MixedDecoderConfig(d_model=32, n_heads=2, n_layers=2, d_ff=64, dropout=0.0, codes=16),
}


def config(name: str, **overrides) -> MixedDecoderConfig:
    if name not in CONFIGS:
        raise ValueError(f"unknown mixed_decoder configuration {name!r}; choose one of {sorted(CONFIGS)}")
    return replace(CONFIGS[name], **{"vocab_size": 0, **overrides})  # 0: derive it from the new words/codes


def image_slots(ids: Tensor, n_image: int) -> Tensor:
    """ids (B, T) → slot of each position (B, T): t − (latest <boi> at or before t) inside an open image, else 0.

    Computed from ids[:, :t+1] only (running maxima from the left). Clamped to ``n_image``.
    """
    pos = torch.arange(ids.shape[1], device=ids.device).expand_as(ids)
    none = torch.full_like(pos, -1)
    last_boi = torch.cummax(torch.where(ids == BOI, pos, none), dim=1).values
    last_eoi = torch.cummax(torch.where(ids == EOI, pos, none), dim=1).values
    inside = (last_boi > last_eoi) & (pos > last_boi)
    return torch.where(inside, (pos - last_boi).clamp(max=n_image), torch.zeros_like(pos))


_PUNCTUATION = re.compile(r"[.,;:!?\"'()]")


@register("mixed_decoder", MixedDecoderConfig)
class MixedDecoder(GPT):
    """GPT over <specials | words | image codes> with a slot embedding; holds the image codebook as a buffer."""

    def __init__(self, config: MixedDecoderConfig):
        super().__init__(config)
        c = self.config
        g = c.image_size // c.patch
        self.n_image = g * g  # codes per image
        self.slots = nn.Embedding(self.n_image + 1, c.d_model)  # row 0: not inside an image
        nn.init.normal_(self.slots.weight, std=0.02)
        self.register_buffer("codebook", torch.zeros(c.codes, c.patch * c.patch))  # set by the recipe (k-means)

    # --- vocabulary ---------------------------------------------------------------------------------
    @property
    def code_offset(self) -> int:
        return len(SPECIALS) + len(self.config.words)

    def text_ids(self, text: str) -> list[int]:
        """Words of ``text`` (lower-cased; '/' splits words; . , ; : ! ? quotes dropped) → their ids."""
        words = _PUNCTUATION.sub(" ", text.lower().replace("/", " ")).split()
        if not words:
            raise ValueError(f"the text {text!r} has no words")
        index = {w: len(SPECIALS) + i for i, w in enumerate(self.config.words)}
        unknown = [w for w in words if w not in index]
        if unknown:
            raise ValueError(f"unknown word(s) {unknown} in {text!r}; this model knows: {' '.join(self.config.words)}")
        return [index[w] for w in words]

    def caption_prompt(self, text: str) -> list[int]:
        """<bos> text <boi>: the prompt that makes the model draw an image of ``text``."""
        return [BOS, *self.text_ids(text), BOI]

    def edit_prompt(self, codes: Tensor, instruction: str) -> Tensor:
        """codes (B, 49) of source images → <bos> <boi> codes <eoi> instruction <boi>, (B, 55 + words)."""
        b = codes.shape[0]
        head = torch.tensor([BOS, BOI], device=codes.device).expand(b, 2)
        mid = torch.tensor([EOI, *self.text_ids(instruction), BOI], device=codes.device).expand(b, -1)
        return torch.cat([head, codes + self.code_offset, mid], dim=1)

    # --- images ---------------------------------------------------------------------------------------
    def encode_images(self, images: Tensor) -> Tensor:
        """Grey images (B, 1, 28, 28) in [0, 1] → codes (B, 49) in 0 … K−1."""
        s = self.config.image_size
        if images.ndim != 4 or images.shape[1:] != (1, s, s):
            raise ValueError(f"expected grey images (B, 1, {s}, {s}), got {tuple(images.shape)}")
        return encode_images(images.to(self.codebook.device), self.codebook, self.config.patch)

    def decode_codes(self, codes: Tensor) -> Tensor:
        """Codes (B, 49) in 0 … K−1 → images (B, 1, 28, 28)."""
        c = self.config
        return decode_codes(codes, self.codebook, c.patch, c.image_size, c.image_size)

    # --- the decoder ------------------------------------------------------------------------------------
    def _embed(self, ids: Tensor, offset: int = 0, slots: Tensor | None = None) -> Tensor:
        x = super()._embed(ids, offset)  # E[s_t] + P[t], with dropout
        if slots is None:
            if offset:
                raise ValueError("give the slots of tokens that continue a sequence (image_slots of the whole sequence)")
            slots = image_slots(ids, self.n_image)
        return x + self.dropout(self.slots(slots))

    def forward(self, ids: Tensor, last_only: bool = False) -> Tensor:
        """ids: (B, T), T ≤ max_len → logits (B, T, V) (or (B, 1, V)); position t sees ids[:, :t+1] only."""
        h = self.blocks(self._embed(ids), causal=True)
        return self.head.logits(h[:, -1:] if last_only else h)

    def forward_cached(self, ids: Tensor, cache: list[KVCache], slots: Tensor | None = None) -> Tensor:
        """ids (B, T_new) after those in ``cache`` → logits (B, T_new, V).

        ``slots`` (B, T_new): ``image_slots(whole sequence)[:, -T_new:]``; may be left out when the cache is empty.
        The layers are GPT's, run as in :meth:`GPT.forward_cached`.
        """
        return self.head.logits(self.blocks(self._embed(ids, cache[0].length, slots), causal=True, caches=cache))


@torch.no_grad()
def draw_images(
    model: MixedDecoder,
    prompt: Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    use_cache: bool = True,
) -> Tensor:
    """Continue prompts (B, T) that end with <boi> by one image each → its codes (B, 49) in 0 … K−1.

    Each of the 49 tokens is drawn among the K image codes only. ``use_cache=False`` re-reads the whole
    sequence at every step (the reference the cached path must match).
    """
    if prompt.ndim != 2 or prompt.shape[1] == 0 or bool((prompt[:, -1] != BOI).any()):
        raise ValueError("each prompt must be a row of token ids ending with <boi>")
    n, k, first = model.n_image, model.config.codes, model.code_offset
    if prompt.shape[1] + n > model.config.max_len:
        raise ValueError(f"a prompt of {prompt.shape[1]} tokens leaves no room for {n} image codes in max_len={model.config.max_len}")
    was_training = model.training
    model.eval()
    ids = prompt
    cache = model.new_cache() if use_cache else None
    try:
        logits = model.forward_cached(ids, cache)[:, -1] if use_cache else model(ids, last_only=True)[:, -1]
        for step in range(n):
            code = sample_next(logits[:, first : first + k], temperature, top_k, top_p, generator)
            ids = torch.cat([ids, (code + first)[:, None]], dim=1)
            if step == n - 1:
                break
            if use_cache:
                logits = model.forward_cached(ids[:, -1:], cache, image_slots(ids, n)[:, -1:])[:, -1]
            else:
                logits = model(ids, last_only=True)[:, -1]
    finally:
        model.train(was_training)
    return ids[:, -n:] - first
