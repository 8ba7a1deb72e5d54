"""The evaluation contract (diffcomp.eval.contract): the pass the module hands the callbacks, the
Evaluator protocol the record reads, the sample arrays saved beside the PNG, and the noise schedule
that follows the module's device without entering its state dict."""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from support import compose_config

from diffcomp.analysis.callback import RepresentationCallback
from diffcomp.data.canvas import evaluation_labels, evaluation_sections, render_images
from diffcomp.diffusion.module import DiffusionModule
from diffcomp.eval.callback import EvaluationCallback
from diffcomp.eval.contract import EvalSamples, EvaluationPass, Evaluator, EvaluatorCallback
from diffcomp.eval.samples_file import (
    SAMPLE_ARRAYS,
    gray_levels,
    load_sample_arrays,
    sample_arrays_path,
    sample_step,
    sections,
)
from diffcomp.localscores.callback import LengthGeneralisationCallback, grid_arrays
from diffcomp.model.unet import UNet


def tiny_module(**options) -> DiffusionModule:
    unet = UNet(image_size=8, channels=(8, 8, 8, 8), bottleneck=8, encoding_dim=8, heads=2)
    return DiffusionModule(unet, timesteps=50, sampler="ddim", sample_steps=2, probe_layer=None, **options)


class StubModule:
    """What an evaluation callback may touch of the module: ``evaluation_pass()`` and ``log``."""

    def __init__(self, evaluation: EvaluationPass | None):
        self._evaluation, self.logged = evaluation, {}

    def evaluation_pass(self) -> EvaluationPass | None:
        return self._evaluation

    def log(self, key, value, **_) -> None:
        self.logged[key] = value


def canvas_pass(dm, seed: int = 0) -> tuple[EvaluationPass, torch.Tensor]:
    """An evaluation pass of the dataset's rendered images (plus noise) at every evaluation label."""
    labels = evaluation_labels(dm.spec).float()
    noise = torch.rand(len(labels), dm.spec.size, dm.spec.size, generator=torch.Generator().manual_seed(seed))
    images = (render_images(dm.spec, labels) + 3 * noise - 1.5).clamp(0, 255)
    samples = EvalSamples(labels=list(labels.split(100)), images=list(images.split(100)), seconds=0.25)
    return EvaluationPass(samples, EvalSamples(), train_loss=0.5), images


def png_tiles(path, count: int, size: int, columns: int = 8) -> np.ndarray:
    """The tiles of a saved grid PNG (diffcomp.data.render.image_grid's layout), as grey levels."""
    from matplotlib.image import imread

    grid = np.round(imread(path)[..., 0] * 255).astype(np.uint8)
    tiles = []
    for i in range(count):
        r, c = divmod(i, columns)
        tiles.append(grid[r * (size + 1) : r * (size + 1) + size, c * (size + 1) : c * (size + 1) + size])
    return np.stack(tiles)


def test_the_sample_arrays_hold_the_png_tiles_with_their_labels_and_sections(tmp_path):
    dm = instantiate(compose_config(["data=sos", "data.size=8", "data.holdout.type=cross"]).data, _convert_="all")
    evaluation, images = canvas_pass(dm)
    callback = EvaluationCallback(tmp_path, grid_size=12)
    trainer = SimpleNamespace(sanity_checking=False, datamodule=dm, global_step=7, current_epoch=0, loggers=[])
    module = StubModule(evaluation)
    callback.on_validation_epoch_end(trainer, module)

    path = sample_arrays_path(tmp_path, 7)
    assert path == tmp_path / "samples" / "step_0000007.npz" and sorted(tmp_path.glob(SAMPLE_ARRAYS)) == [path]
    assert sample_step(path) == 7
    arrays = load_sample_arrays(path)
    labels = evaluation_labels(dm.spec).float()
    masks = evaluation_sections(dm.spec, labels)
    assert set(masks) >= {"id", "ood", "vertical", "horizontal", "intersection"}
    assert set(arrays) == {"images", "labels", "index", *(f"section_{name}" for name in masks)}
    k, n = 12, dm.spec.size
    assert arrays["images"].dtype == np.uint8 and arrays["images"].shape == (k, n, n)
    assert arrays["labels"].dtype == np.float32 and arrays["labels"].shape == (k, 2)
    assert arrays["index"].dtype == np.int64 and arrays["index"].shape == (k,)
    index = torch.from_numpy(arrays["index"])
    assert index[0] == 0 and index[-1] == len(labels) - 1 and bool((index.diff() > 0).all())  # spread evenly
    assert torch.equal(torch.from_numpy(arrays["labels"]), labels[index])
    for name, mask in sections(arrays).items():
        assert mask.dtype == np.bool_ and mask.shape == (k,)
        assert np.array_equal(mask, masks[name][index].numpy()), name
    # the PNG beside it shows exactly these tiles, and they are the sampled images' grey levels
    assert np.array_equal(png_tiles(path.with_suffix(".png"), k, n), arrays["images"])
    # matplotlib: 256 bins over [0, 255] (v + v/255, floored) and a colour table a level low at some bins
    offset = arrays["images"].astype(float) - images[index].numpy()
    assert offset.min() > -2.0 and offset.max() < 2.0
    # the scores reached the record and the logger through the contract
    assert callback.sample_seconds == 0.25 and callback.latest["train/interval_loss"] == 0.5
    assert callback.history[-1]["step"] == 7 and module.logged["eval/acc"] == callback.latest["eval/acc"]


def test_gray_levels_are_those_the_png_shows():
    from matplotlib.image import imread, imsave

    ramp = np.linspace(-4.0, 300.0, 60 * 64, dtype=np.float32).reshape(60, 64)  # out of range at both ends
    integers = np.arange(256, dtype=np.float32).reshape(4, 64)  # the mapping is not the identity on them
    values = np.concatenate([integers, ramp])
    levels = gray_levels(values)
    assert levels.dtype == np.uint8 and levels.shape == values.shape
    assert levels[4, 0] == 0 and levels[-1, -1] == 255 and (np.diff(levels[4:].ravel().astype(int)) >= 0).all()
    imsave(buffer := io.BytesIO(), values, cmap="gray", vmin=0, vmax=255, format="png")
    buffer.seek(0)
    assert np.array_equal(np.round(imread(buffer)[..., 0] * 255).astype(np.uint8), levels)


def test_a_missing_or_damaged_sample_file_reads_as_none(tmp_path):
    assert load_sample_arrays(tmp_path / "nothing.npz") is None
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    assert load_sample_arrays(tmp_path / "bad.npz") is None


def test_no_arrays_without_samples(tmp_path):
    callback = EvaluationCallback(tmp_path)
    trainer = SimpleNamespace(sanity_checking=False, global_step=0)
    callback.on_validation_epoch_end(trainer, StubModule(None))
    assert callback.history == [] and not (tmp_path / "samples").exists()


def test_the_local_scores_grid_arrays_are_its_first_requests_per_count():
    conditions = torch.zeros(10, 3, 3)
    counts = [1, 2, 1, 3, 1, 2, 1, 1, 3, 2]
    for i, k in enumerate(counts):
        conditions[i, :k, 2] = 1.0
        conditions[i, :k, :2] = torch.tensor([[2.0 + i, 3.0 + j] for j in range(k)])
    images = torch.linspace(0, 255, 10 * 64).reshape(10, 8, 8)
    arrays = grid_arrays(images, conditions, per_count=2)
    assert arrays["index"].tolist() == [0, 2, 1, 5, 3, 8]  # k = 1, 1, 2, 2, 3, 3
    assert arrays["images"].dtype == np.uint8 and arrays["images"].shape == (6, 8, 8)
    assert np.array_equal(arrays["images"], gray_levels(images[arrays["index"]].numpy()))
    assert arrays["labels"].dtype == np.float32 and np.array_equal(arrays["labels"], conditions[arrays["index"]])


@pytest.mark.parametrize(
    "make",
    [
        lambda path: EvaluationCallback(path),
        lambda path: LengthGeneralisationCallback(path),
        lambda path: RepresentationCallback(path, umap=False),
    ],
    ids=["canvas", "local_scores", "representation"],
)
def test_every_evaluation_callback_satisfies_the_evaluator_protocol(tmp_path, make):
    callback = make(tmp_path)
    assert isinstance(callback, Evaluator) and isinstance(callback, EvaluatorCallback)
    assert callback.history == [] and callback.latest == {} and callback.sample_seconds is None
    assert isinstance(callback.record_sections(), dict)
    callback.load_state_dict({"history": [{"step": 3}]})
    assert callback.state_dict()["history"] == [{"step": 3}]


def test_the_module_hands_over_one_pass_per_evaluation():
    module = tiny_module()
    assert module.evaluation_pass() is None  # before any evaluation
    module.on_validation_start()
    module.on_validation_epoch_start()
    labels = torch.tensor([[2.0, 3.0], [5.0, 6.0]])
    module.validation_step(labels, 0)
    module.validation_step(labels[:1], 0, dataloader_idx=1)  # the fixed sample of training labels
    module.on_validation_end()
    evaluation = module.evaluation_pass()
    assert isinstance(evaluation, EvaluationPass) and evaluation.train_loss is None  # nothing trained yet
    got, images, _ = evaluation.samples.cat()
    assert torch.equal(got, labels) and images.shape == (2, 8, 8) and evaluation.samples.seconds > 0
    assert torch.equal(evaluation.training.cat()[0], labels[:1])
    assert module.clock.evaluation_seconds > 0
    module.on_validation_epoch_start()  # the next evaluation starts empty
    assert module.evaluation_pass() is None


def test_the_schedule_follows_the_module_and_stays_out_of_its_state():
    module = tiny_module()
    reference = tiny_module().schedule
    assert not hasattr(module, "_schedule_on")
    # the state dict is the network's alone, as in checkpoints written before the schedule moved here
    assert set(module.state_dict()) == {f"model.{k}" for k in module.model.state_dict()}
    assert list(module.buffers()) == list(module.model.buffers())  # not a buffer: EMA never averages it
    old = {f"model.{k}": v.clone() for k, v in tiny_module().model.state_dict().items()}
    module.load_state_dict(old, strict=True)
    module.double()  # the weights' dtype changes, the schedule's does not
    assert module.schedule.alpha_bars.dtype == torch.float32
    assert torch.equal(module.schedule.alpha_bars, reference.alpha_bars)
    module.to("meta")  # a device move (meta stands in for a GPU)
    s = module.schedule
    assert {s.betas.device.type, s.alphas.device.type, s.alpha_bars.device.type} == {"meta"}
    assert s.num_steps == 50


def test_an_averaged_copy_keeps_the_schedule_exact():
    """Lightning's EMA averages parameters and buffers; averaging constants would drift them."""
    from torch.optim.swa_utils import AveragedModel, get_ema_avg_fn

    module = tiny_module()
    averaged = AveragedModel(module, use_buffers=True, avg_fn=get_ema_avg_fn(0.9))
    for _ in range(5):
        averaged.update_parameters(module)
    assert torch.equal(averaged.module.schedule.alphas, module.schedule.alphas)
