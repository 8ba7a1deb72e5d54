"""The paper's UNet: size, shapes, conditioning, and the named representation layer."""

import pytest
import torch

from diffcomp.model.capture import capture_layer
from diffcomp.model.unet import UNet, sinusoidal_encoding


def test_reference_widths_give_the_public_unet_size():
    assert sum(p.numel() for p in UNet().parameters()) == pytest.approx(23.4e6, rel=0.005)


def test_output_has_the_input_shape():
    model = UNet(16, (8, 16, 16, 16), 16, 8)
    x = torch.randn(3, 1, 16, 16)
    assert model(x, torch.tensor([0, 10, 999]), torch.rand(3, 2) * 16).shape == (3, 1, 16, 16)


def test_conditioning_on_position_changes_the_output():
    torch.manual_seed(0)
    model = UNet(16, (8, 16, 16, 16), 16, 8).eval()
    x = torch.randn(1, 1, 16, 16).repeat(2, 1, 1, 1)
    t = torch.tensor([500, 500])
    out = model(x, t, torch.tensor([[3.0, 4.0], [12.0, 4.0]]))
    assert (out[0] - out[1]).abs().max() > 1e-4
    same = model(x, t, torch.tensor([[3.0, 4.0], [3.0, 4.0]]))
    assert torch.allclose(same[0], same[1], atol=1e-6)


def test_sinusoidal_encoding_matches_its_formula():
    enc = sinusoidal_encoding(torch.tensor([2.0]), 4)
    # frequencies 10000^(-i/2), i = 0, 1 -> 1 and 0.01
    assert enc[0].tolist() == pytest.approx(
        [
            torch.sin(torch.tensor(2.0)).item(),
            torch.sin(torch.tensor(0.02)).item(),
            torch.cos(torch.tensor(2.0)).item(),
            torch.cos(torch.tensor(0.02)).item(),
        ],
        abs=1e-6,
    )


def test_layer4_capture_is_the_third_down_block_output():
    model = UNet(32, (8, 16, 16, 24), 16, 8)
    with capture_layer(model, "down3") as captured:
        model(torch.randn(2, 1, 32, 32), torch.tensor([1, 2]), torch.rand(2, 2))
    assert captured.last.shape == (2, 24, 4, 4)


def test_unknown_probe_layer_is_rejected_with_the_allowed_names():
    with (
        pytest.raises(ValueError, match="eval.probe_layer='layer9'.*down3"),
        capture_layer(UNet(8, (8, 8, 8, 8), 8, 8), "layer9"),
    ):
        pass


def test_canvas_not_divisible_by_8_is_rejected():
    with pytest.raises(ValueError, match="data.size=12 must be divisible by 8"):
        UNet(12)
