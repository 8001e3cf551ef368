"""G.711 μ-law and A-law against the standard's values, its continuous curves, and round-trip error bounds."""

import numpy as np
import pytest
import torch

from transmodal.audio.g711 import (alaw_decode, alaw_encode, alaw_to_linear, linear_to_alaw, linear_to_mulaw,
                                   mulaw_decode, mulaw_encode, mulaw_to_linear)

ALL_BYTES = torch.arange(256, dtype=torch.uint8)
ALL_INT16 = torch.arange(-32768, 32768, dtype=torch.int64)


@pytest.mark.parametrize("code, value", [(0xFF, 0), (0x7F, 0), (0x80, 32124), (0x00, -32124), (0x01, -31100),
                                         (0xFE, 8), (0x7E, -8), (0xF0, 120)])
def test_mulaw_known_values(code, value):
    # values from the G.711 μ-law decoding table (16-bit linear)
    assert mulaw_to_linear(torch.tensor([code], dtype=torch.uint8)).item() == value


@pytest.mark.parametrize("code, value", [(0xD5, 8), (0x55, -8), (0xAA, 32256), (0x2A, -32256), (0x00, -5504),
                                         (0x01, -5248), (0x80, 5504)])
def test_alaw_known_values(code, value):
    assert alaw_to_linear(torch.tensor([code], dtype=torch.uint8)).item() == value


def test_zero_encodes_to_the_standard_bytes():
    assert linear_to_mulaw(torch.tensor([0])).item() == 0xFF
    assert linear_to_alaw(torch.tensor([0])).item() == 0xD5
    assert linear_to_alaw(torch.tensor([-1])).item() == 0x55


def test_every_code_survives_decode_then_encode():
    mu = linear_to_mulaw(mulaw_to_linear(ALL_BYTES))
    expected = ALL_BYTES.clone()
    expected[0x7F] = 0xFF                     # "negative zero" decodes to 0, which encodes as positive zero
    assert torch.equal(mu, expected)
    assert torch.equal(linear_to_alaw(alaw_to_linear(ALL_BYTES)), ALL_BYTES)


def _mulaw_half_step(x: np.ndarray) -> np.ndarray:
    biased = np.minimum(np.abs(x), 32635) + 132
    e = np.clip(np.floor(np.log2(biased)) - 7, 0, 7)
    return 8 * 2**e / 2


def _alaw_half_step(x: np.ndarray) -> np.ndarray:
    v = np.where(x >= 0, x, -x - 1) // 8
    e = np.where(v < 32, 0, np.floor(np.log2(np.maximum(v, 1))) - 4)
    return 16 * 2 ** np.maximum(e - 1, 0) / 2


def test_mulaw_round_trip_error_is_half_a_step_of_its_segment():
    x = ALL_INT16.numpy()
    err = np.abs(mulaw_to_linear(linear_to_mulaw(ALL_INT16)).numpy() - x)
    inside = np.abs(x) <= 32635
    assert np.all(err[inside] <= _mulaw_half_step(x[inside]))
    assert np.all(err[~inside] <= 32768 - 32124)            # beyond the clip level: the top code
    assert err.max() > 0 and np.mean(err[np.abs(x) < 100]) < 4


def test_alaw_round_trip_error_is_half_a_step_of_its_segment():
    x = ALL_INT16.numpy()
    err = np.abs(alaw_to_linear(linear_to_alaw(ALL_INT16)).numpy() - x)
    assert np.all(err <= _alaw_half_step(x))


@pytest.mark.parametrize("encode, decode", [(linear_to_mulaw, mulaw_to_linear), (linear_to_alaw, alaw_to_linear)])
def test_quantiser_is_monotonic(encode, decode):
    y = decode(encode(ALL_INT16))
    assert torch.all(y[1:] >= y[:-1])


def _mu_curve(x):
    return np.log1p(255 * x) / np.log(256)


def _a_curve(x, a=87.6):
    return np.where(x < 1 / a, a * x / (1 + np.log(a)), (1 + np.log(np.maximum(a * x, 1e-30))) / (1 + np.log(a)))


@pytest.mark.parametrize("encode, flip, curve", [(mulaw_encode, 0xFF, _mu_curve), (alaw_encode, 0xD5, _a_curve)])
def test_codes_follow_the_continuous_companding_curve(encode, flip, curve):
    # the 7 bits below the sign count segments × 16 + steps: index / 128 ≈ F(|x|), the standard's curve
    x = np.linspace(0.001, 0.99, 500)
    codes = encode(torch.from_numpy(x)).numpy().astype(np.int64)
    index = (codes ^ flip) & 0x7F
    assert np.max(np.abs(index / 128 - curve(x))) < 0.03


@pytest.mark.parametrize("encode, decode, top", [(mulaw_encode, mulaw_decode, 32124), (alaw_encode, alaw_decode, 32256)])
def test_float_round_trip_relative_error(encode, decode, top):
    # a 4-bit mantissa: relative error ≤ (half step) / (segment start) ≤ 4.2 % from 0.02 of full scale up
    x = torch.tensor(np.geomspace(0.02, 0.98, 400) * np.resize([1, -1], 400))
    y = decode(encode(x))
    assert y.dtype == torch.float32
    assert torch.all((y.double() - x).abs() / x.abs() <= 0.042)
    # beyond full scale: clipped to the largest code
    assert decode(encode(torch.tensor([2.0, -2.0]))).tolist() == [top / 32768, -top / 32768]
