"""A finished run directory as an object: its config, record and trained model, ready to sample.

Used by the notebook API (:mod:`diffcomp.api`), the finished-run analysis command and the experiment
scripts that re-evaluate a trained model (e.g. with another sampler).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from diffcomp.model.capture import AUTO, choose_probe_layer
from diffcomp.results import RECORD_NAME, Record, UnreadableRecord, load_record_of, read_record, write_json_atomic


def as_labels(labels: Sequence | Tensor) -> Tensor:
    return torch.as_tensor(labels, dtype=torch.float32).reshape(-1, 2)


@dataclass
class FinishedRun:
    """A finished run directory: its config, record and trained model (EMA weights when used)."""

    path: Path
    config: DictConfig
    record: Record | None  # its results.json (None when the run wrote none)
    module: object

    def sample(
        self,
        labels: Sequence | Tensor,
        sampler: str = "ddim",
        steps: int = 100,
        seed: int = 0,
        layer: str | None = None,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Generate one image per label; with ``layer`` also return that layer's activations [B, D]."""
        images, acts = self.module.generate(as_labels(labels), sampler=sampler, steps=steps, seed=seed, capture=layer)
        return (images.cpu(), acts.cpu()) if layer else images.cpu()

    def datamodule(self):
        """The run's datamodule (built on the CPU; ``setup()`` renders it)."""
        return instantiate(self.config.data, _convert_="all")

    def evaluate(self, sampler: str = "ddpm", steps: int = 100, clip_x0: bool = True, batch: int | None = None) -> dict:
        """Accuracy of the run's model at its evaluation labels with another sampler or clipping
        (the same evaluation noise as the run's own evaluations)."""
        from diffcomp.data.canvas import evaluation_labels, evaluation_sections
        from diffcomp.eval.callback import score_samples

        dm = self.datamodule()
        labels = evaluation_labels(dm.spec).float()
        previous = self.module.hparams.clip_x0
        self.module.hparams.clip_x0 = clip_x0
        batch = batch or int(self.config.eval.batch_size)
        try:
            chunks = labels.split(batch)
            images = torch.cat(
                [self.sample(chunk, sampler, steps, seed=self.module.eval_seed(i)) for i, chunk in enumerate(chunks)]
            )
        finally:
            self.module.hparams.clip_x0 = previous
        return score_samples(
            images, labels, self.config.eval.readout, dm.period, evaluation_sections(dm.spec, labels), dm.spec.eval_kind
        )

    @property
    def metrics(self) -> dict:
        return self.record.metrics if self.record else {}


def load_run(path: str | Path, device: str | None = None) -> FinishedRun:
    """Load a run directory written by ``python -m diffcomp.run`` (its ``.hydra/config.yaml`` and ``model.pt``)."""
    path = Path(path)
    config_file = path / ".hydra" / "config.yaml"
    if not config_file.exists():
        raise FileNotFoundError(f"{path} is not a run directory: {config_file} is missing")
    cfg = OmegaConf.load(config_file)
    weights = path / "model.pt"
    if not weights.exists():
        raise FileNotFoundError(f"{weights} is missing: the run did not finish")
    model = instantiate(cfg.model, _convert_="all")
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))  # tensors only: no code
    module = instantiate(cfg.diffusion, model=model, _convert_="all")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        record = load_record_of(path)
    except UnreadableRecord:
        record = None
    return FinishedRun(path, cfg, record, module.to(device).eval())


def analyze_finished_run(
    run_dir: Path, sampler: str = "ddim", steps: int = 100, layer: str | None = None, batch: int = 256, **options
) -> dict:
    """Sample the evaluation grid from a finished run, analyse the layer, add it to the run's record."""
    from diffcomp.analysis.report import analyze_representation
    from diffcomp.data.canvas import evaluation_labels

    run = load_run(run_dir)
    # the run's own probed layer (``auto`` resolved as it was in training), else the 4x4 map's stage
    layer = layer or run.module.probe_layer or choose_probe_layer(run.module.model, AUTO)
    dm = run.datamodule()
    labels = evaluation_labels(dm.spec).float()
    acts = torch.cat([run.sample(chunk, sampler=sampler, steps=steps, layer=layer)[1] for chunk in labels.split(batch)])
    scalars, figures = analyze_representation(
        acts.numpy(), labels.numpy(), Path(run_dir) / "analysis" / "final", period=dm.period, **options
    )
    record = read_record(run_dir) or {}
    record["analysis"] = {"layer": layer, "sampler": sampler, "steps": steps, **scalars}
    write_json_atomic(Path(run_dir) / RECORD_NAME, record)
    return {"scalars": scalars, "figures": {k: str(v) for k, v in figures.items() if v.suffix == ".png"}}
