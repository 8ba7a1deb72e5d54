"""The three-phases table (preprint; issue 19.10): phase boundaries per optimizer step *and* per epoch,
and the phase-B position errors, on synthetic records whose answers are known."""

from pathlib import Path

from diffcomp.results import Record
from diffcomp.sweeps.figures import figure_script

phases = figure_script("three_phases")


def record(job_dir: Path, increment: float, images: int, b_to_c_step: int, batch: int = 32) -> Record:
    """A job whose samples show one feature from step 100 and turn right at ``b_to_c_step``; in phase B
    a quarter of the one-feature samples are off by one pixel and half are 2-4 px away."""
    history = []
    for step in range(0, 1001, 100):
        one = 0.0 if step < 100 else 0.9
        acc = 0.0 if step < b_to_c_step else 0.8
        errors = (0.25, 0.25, 0.5, 0.0) if step < b_to_c_step else (0.9, 0.1, 0.0, 0.0)
        entry = {"step": step, "eval/acc": acc, "eval/frac_one_feature": one}
        if one:
            entry.update(
                {f"eval/one_feature/err_{n}": v for n, v in zip(("lt1", "1to2", "2to4", "ge4"), errors)},
                **{"eval/one_feature/err_median": 2.0},
            )
        history.append(entry)
    raw = {
        "schema": 2,
        "status": "complete",
        "seed": 0,
        "config": {"train": {"batch_size": batch}},
        "data": {"increment_x": increment, "increment_y": increment, "images": images},
        "history": history,
    }
    return Record.from_dict(raw, job_dir)


def test_boundaries_are_given_per_step_and_per_epoch_with_the_phase_b_errors(tmp_path: Path):
    # the same B -> C step for both increments, but 16x the data: 16x fewer epochs for the denser set
    runs = [
        phases.Run(record(tmp_path / "a", 0.25, 4096, 400)),
        phases.Run(record(tmp_path / "b", 1.0, 256, 400)),
    ]
    text = phases.write_table(runs, tmp_path / "t.md", "test").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| 0.25") or line.startswith("| 1")]
    dense, sparse = rows
    # B -> C: accuracy 0.5 interpolated between 300 (0) and 400 (0.8) is step 362.5, i.e. 362.5 * 32 / images
    # epochs; A -> B: one-feature 0.5 between 0 (0) and 100 (0.9), step 55.6
    assert "| 56 | (0, 100] | 0.4 | 362 | (300, 400] | 2.8 |" in dense
    assert "| 56 | (0, 100] | 6.9 | 362 | (300, 400] | 45.3 |" in sparse
    assert "| 100 | 0.25 / 0.25 / 0.50 / 0.00 | 2.000 |" in dense  # the first evaluation inside phase B
    assert "B -> C step by increment: d=0.25: 362, d=1: 362; consistent up to ties" in text
    assert "B -> C epoch by increment: d=0.25: 2.8, d=1: 45.3; consistent (B -> C later for every larger d)" in text
