"""SquaresDataset: its examples, and DataLoader workers started with `spawn` (macOS, Windows) can load it."""
import subprocess
import sys
import textwrap

import pytest
import torch
from torch.utils.data import DataLoader

from course_utils import SquaresDataset


def test_example_i_is_i_and_its_square():
    squares = SquaresDataset(10)
    assert len(squares) == 10
    x, y = squares[7]
    assert torch.equal(x, torch.tensor([7.0])) and torch.equal(y, torch.tensor([49.0]))
    with pytest.raises(IndexError, match="out of range"):
        squares[10]
    with pytest.raises(ValueError, match="0 or more"):
        SquaresDataset(-1)


def batches(num_workers, **kwargs):
    """Lecture 06's loader: shuffled batches of 3, the order fixed by a seeded generator."""
    loader = DataLoader(SquaresDataset(10), batch_size=3, shuffle=True, num_workers=num_workers,
                        generator=torch.Generator().manual_seed(0), **kwargs)
    return [(xb, yb) for xb, yb in loader]


@pytest.mark.slow  # spawns worker processes that import torch
def test_two_spawned_workers_give_the_same_batches_as_the_main_process():
    """Does lecture 06's num_workers=2 cell work where workers are spawned, not forked?"""
    in_process = batches(0)
    spawned = batches(2, multiprocessing_context="spawn")
    assert len(spawned) == len(in_process) == 4
    for (a, b), (c, d) in zip(in_process, spawned):
        assert torch.equal(a, c) and torch.equal(b, d)


@pytest.mark.slow  # spawns worker processes that import torch
def test_a_dataset_class_defined_in_main_cannot_be_loaded_by_spawned_workers():
    """Why the lecture imports the class: a spawned worker cannot find a class that lives in __main__."""
    script = textwrap.dedent(
        """
        import torch
        from torch.utils.data import DataLoader
        from course_utils import SquaresDataset

        class DefinedHere(SquaresDataset):
            pass

        loader = DataLoader(DefinedHere(4), batch_size=2, num_workers=1, multiprocessing_context="spawn")
        try:
            list(loader)
        except RuntimeError as error:
            print("failed:", error)
        else:
            print("loaded")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.stdout.startswith("failed: DataLoader worker"), result.stdout + result.stderr
    assert "Can't get attribute 'DefinedHere'" in result.stderr


@pytest.mark.slow  # spawns worker processes that import torch
def test_lecture_06_worker_cell_runs_with_spawned_workers():
    """Lecture 06's own num_workers=2 cell, run as macOS and Windows run it: with spawned workers."""
    import json
    from pathlib import Path

    notebook = json.loads((Path(__file__).parents[1] / "lectures" / "06_training_api.ipynb").read_text())
    sources = {cell.get("id"): "".join(cell["source"]) for cell in notebook["cells"]}
    dataset_cell, worker_cell = sources["cell-041"], sources["cell-046"]
    assert "num_workers" in worker_cell and "SquaresDataset" in dataset_cell
    script = "\n".join([
        "import multiprocessing",
        "multiprocessing.set_start_method('spawn', force=True)",
        "import torch",
        "from torch.utils.data import DataLoader, Dataset",
        dataset_cell,
        worker_cell,
        "assert multiprocessing.get_start_method() == 'spawn'",
        "assert len(with_workers) == 4",
        "assert all(torch.equal(a, c) and torch.equal(b, d) for (a, b), (c, d) in zip(in_process, with_workers))",
    ])
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "same batches with 0 and 2 workers: True" in result.stdout
