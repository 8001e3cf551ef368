"""Sinusoidal, learned positions."""

import math

import pytest
import torch

from transmodal.nn import LearnedPositions, SinusoidalPositions, make_positions, sinusoidal_table


def pe(t, j, d):
    """The paper's formula, with python floats: column j = 2i (sin) or 2i+1 (cos)."""
    i = j // 2
    angle = t / 10000 ** (2 * i / d)
    return math.sin(angle) if j % 2 == 0 else math.cos(angle)


@pytest.mark.parametrize("d", [2, 8, 512])
def test_sinusoidal_table_matches_formula(d):
    torch.manual_seed(0)
    table = sinusoidal_table(300, d, dtype=torch.float64)
    assert table.shape == (300, d) and table.dtype == torch.float64
    cols = sorted({0, 1, d - 2, d - 1, d // 2, d // 2 + 1} & set(range(d)))
    for t in (0, 1, 2, 7, 50, 299):
        for j in cols:
            assert table[t, j].item() == pytest.approx(pe(t, j, d), abs=1e-12, rel=0), (t, j)
    # Default float32 table is the float64 one rounded.
    assert torch.equal(sinusoidal_table(300, d), table.float())


def test_sinusoidal_table_full_small_exact_shape():
    torch.manual_seed(1)
    d, n = 6, 20
    table = sinusoidal_table(n, d, dtype=torch.float64)
    want = torch.tensor([[pe(t, j, d) for j in range(d)] for t in range(n)], dtype=torch.float64)
    torch.testing.assert_close(table, want, atol=1e-13, rtol=0)
    # position 0: sin(0)=0, cos(0)=1 alternating
    assert table[0].tolist() == [0.0, 1.0] * (d // 2)


def test_sinusoidal_table_odd_d_raises():
    torch.manual_seed(2)
    with pytest.raises(ValueError):
        sinusoidal_table(10, 7)


def test_sinusoidal_positions_adds_table_with_offset_and_grows():
    torch.manual_seed(3)
    d = 8
    pos = SinusoidalPositions(d, max_len=4)
    x = torch.randn(2, 3, d)
    torch.testing.assert_close(pos(x), x + sinusoidal_table(3, d))
    torch.testing.assert_close(pos(x, offset=1), x + sinusoidal_table(4, d)[1:4])
    # Beyond the initial max_len: the table grows and values stay correct.
    y = torch.randn(1, 10, d)
    out = pos(y, offset=5)
    assert pos.table.shape[0] >= 15
    want = y + sinusoidal_table(15, d)[5:15]
    torch.testing.assert_close(out, want)
    assert not list(pos.parameters())
    # dtype follows the input
    z = torch.randn(1, 2, d, dtype=torch.float64)
    assert pos(z).dtype == torch.float64


def test_learned_positions_add_and_raise_past_max_len():
    torch.manual_seed(4)
    d = 4
    pos = LearnedPositions(d, max_len=6)
    x = torch.randn(2, 3, d)
    torch.testing.assert_close(pos(x, offset=2), x + pos.table[2:5])
    pos(torch.randn(1, 6, d))  # exactly max_len is fine
    pos(torch.randn(1, 1, d), offset=5)
    with pytest.raises(ValueError, match="max_len=6"):
        pos(torch.randn(1, 7, d))
    with pytest.raises(ValueError, match="max_len"):
        pos(torch.randn(1, 2, d), offset=5)


def test_make_positions():
    torch.manual_seed(5)
    assert isinstance(make_positions("sinusoidal", 8, 10), SinusoidalPositions)
    assert isinstance(make_positions("learned", 8, 10), LearnedPositions)
    assert make_positions("rotary", 8, 10) is None
    assert make_positions("none", 8, 10) is None
    with pytest.raises(ValueError):
        make_positions("alibi", 8, 10)
