"""Building blocks shared by every transmodal model (attention, positions, feed-forward, layers)."""

from transmodal.nn.activations import SwooshL, SwooshR, swoosh_l, swoosh_r
from transmodal.nn.attention import attention, causal_mask, padding_mask
from transmodal.nn.cache import KVCache
from transmodal.nn.conv import ConvolutionModule
from transmodal.nn.embedding import Generator, TokenEmbedding
from transmodal.nn.feedforward import FeedForward, make_activation
from transmodal.nn.lengths import length_mask, zero_padding
from transmodal.nn.norms import BiasNorm, MaskedBatchNorm1d
from transmodal.nn.relative import RelPositionMultiHeadAttention, rel_shift, relative_sinusoids
from transmodal.nn.subsampling import Conv2dSubsampling
from transmodal.nn.layers import Decoder, DecoderLayer, DecoderLayerCache, Encoder, EncoderLayer, LayerSpec
from transmodal.nn.losses import label_smoothed_nll
from transmodal.nn.multihead import MultiHeadAttention
from transmodal.nn.positions import LearnedPositions, RotaryEmbedding, SinusoidalPositions, make_positions, sinusoidal_table
from transmodal.nn.residual import Residual

__all__ = [
    "attention", "causal_mask", "padding_mask", "KVCache", "Generator", "TokenEmbedding", "FeedForward",
    "make_activation", "Decoder", "DecoderLayer", "DecoderLayerCache", "Encoder", "EncoderLayer", "LayerSpec",
    "label_smoothed_nll", "MultiHeadAttention", "LearnedPositions", "RotaryEmbedding", "SinusoidalPositions",
    "make_positions", "sinusoidal_table", "Residual", "SwooshL", "SwooshR", "swoosh_l", "swoosh_r", "ConvolutionModule",
    "length_mask", "zero_padding", "BiasNorm", "MaskedBatchNorm1d", "RelPositionMultiHeadAttention",
    "rel_shift", "relative_sinusoids", "Conv2dSubsampling",
]
