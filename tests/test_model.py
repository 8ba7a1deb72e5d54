"""The paper's UNet: size, shapes, conditioning, and the named representation layer."""

import pytest
import torch

from diffcomp.model.capture import AUTO, auto_layer, capture_layer, choose_probe_layer, map_side
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


@pytest.mark.parametrize("size,layer,side", [(8, "down1", 4), (16, "down2", 4), (32, "down3", 4), (64, "down3", 8)])
def test_auto_probe_picks_the_encoder_stage_with_the_papers_4x4_map(size, layer, side):
    # the paper's "layer 4" is 4x4 at N=32; at N=16 down3 would be 2x2, folding every ring of a torus.
    # At N=64 no encoder map is 4x4 (32, 16, 8): the deepest one at least 4 wide is down3's 8x8.
    assert auto_layer(UNet.map_sizes(size), 4) == layer
    assert UNet.map_sizes(size)[layer] == side


def test_auto_probe_never_reads_the_decoder_and_prefers_the_larger_map_over_folding():
    # N=24: maps 12, 6, 3 in the encoder; 3 cells per axis would fold more than the paper's 4, so 6x6
    assert auto_layer(UNet.map_sizes(24), 4) == "down2"
    assert auto_layer({"down1": 2, "down2": 1, "up1": 2, "up2": 4}, 4) is None


@pytest.mark.parametrize("size", [16, 32])
def test_the_auto_probed_activations_are_a_4x4_map(size):
    model = UNet(size, (8, 8, 8, 8), 8, 8)
    layer = choose_probe_layer(model, AUTO)
    assert map_side(model, layer) == 4
    with capture_layer(model, layer) as captured:
        model(torch.randn(2, 1, size, size), torch.tensor([1, 2]), torch.rand(2, 2))
    assert captured.last.shape[-2:] == (4, 4)
