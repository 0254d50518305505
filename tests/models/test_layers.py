"""FastDropout: nn.Dropout's behaviour, its mask drawn from 16 random bits an element."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from multigen.models.layers import FastDropout


@pytest.mark.parametrize("p", [0.3, 0.5, 0.05])
def test_it_drops_a_share_p_and_scales_the_rest_so_the_mean_is_kept(p):
    torch.manual_seed(0)
    out = FastDropout(p).train()(torch.ones(400_000))
    dropped = (out == 0).float().mean().item()
    assert dropped == pytest.approx(p, abs=0.004)
    kept = out[out != 0]
    assert torch.allclose(kept, torch.full_like(kept, 1 / (1 - p)), rtol=1e-4)
    assert out.mean().item() == pytest.approx(1.0, abs=0.01)


def test_each_element_is_dropped_independently_of_its_neighbours_in_every_layout():
    """Four elements share one 64-bit draw: no quarter of it may be biased, nor neighbours tied together."""
    torch.manual_seed(1)
    out = FastDropout(0.5).train()(torch.ones(64, 64, 14, 14))
    dropped = (out == 0).float().reshape(-1, 4)
    assert torch.allclose(dropped.mean(dim=0), torch.full((4,), 0.5), atol=0.005)  # each quarter of the draw
    both = (dropped[:, 0] * dropped[:, 1]).mean().item()  # two neighbours dropped together: p^2
    assert both == pytest.approx(0.25, abs=0.005)


def test_the_gradient_is_the_same_mask_and_scale():
    torch.manual_seed(2)
    x = torch.randn(3, 50, 7, 7, requires_grad=True)
    out = FastDropout(0.3).train()(x)
    out.sum().backward()
    assert torch.allclose(x.grad, torch.where(out != 0, 1 / (1 - 0.3), 0.0), rtol=1e-4)


def test_in_eval_or_at_zero_it_passes_the_input_through_untouched():
    x = torch.randn(8, 16)
    assert FastDropout(0.3).eval()(x) is x
    assert FastDropout(0.0).train()(x) is x


def test_it_repeats_under_a_seed_like_nn_dropout_and_differs_between_calls():
    layer = FastDropout(0.3).train()
    torch.manual_seed(3)
    first, second = layer(torch.ones(1000)), layer(torch.ones(1000))
    torch.manual_seed(3)
    assert torch.equal(layer(torch.ones(1000)), first)
    assert not torch.equal(first, second)


def test_an_odd_sized_input_of_either_float_type_keeps_its_shape_and_type():
    for dtype in (torch.float32, torch.bfloat16):
        out = FastDropout(0.3).train()(torch.ones(5, 3, dtype=dtype))
        assert out.shape == (5, 3) and out.dtype == dtype


def test_a_probability_a_hair_below_one_drops_everything_as_nn_dropout_does():
    out = FastDropout(0.999999).train()(torch.ones(1000))
    assert torch.isfinite(out).all() and (out == 0).float().mean() > 0.99


def test_a_probability_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="dropout probability"):
        FastDropout(1.0)


def test_a_network_built_with_nn_dropout_loads_into_one_with_fast_dropout():
    """No parameters or buffers: the shipped checkpoints, saved before FastDropout, load as they are."""
    plain = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.3), nn.Linear(4, 2))
    fast = nn.Sequential(nn.Linear(4, 4), FastDropout(0.3), nn.Linear(4, 2))
    fast.load_state_dict(plain.state_dict())
    x = torch.randn(2, 4)
    assert torch.equal(fast.eval()(x), plain.eval()(x))
