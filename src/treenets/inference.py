"""A trained model at work: load a run's best checkpoint, predict, score a run on a split.

``evaluate(run_dir, split)`` (``treenets evaluate``) scores the best checkpoint of a complete run and
writes ``metrics.json`` and the task's prediction file(s) beside it; :func:`predict` is also what
the trainer scores the dev set with. Everything task-specific is the run's task's
(:mod:`treenets.tasks`); this module knows the run directory's files and the model's life cycle.

The run directory's files (written by :mod:`treenets.train`) are named here.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from treenets.config import Config, load_config
from treenets.datasets import Dataset, Example, tokens_of
from treenets.embeddings import Vocab
from treenets.errors import InputError
from treenets.evaluate import output_path
from treenets.files import atomic_write
from treenets.models import build_model
from treenets.tasks import Collate, Predictions, Task, task_for

RESOLVED_CONFIG = "config.resolved.yaml"
VERSIONS = "versions.json"
EPOCHS = "epochs.jsonl"
CHECKPOINT_LAST = "checkpoint-last.pt"
CHECKPOINT_BEST = "best.pt"
VOCAB = "vocab.txt"
DONE = "training.json"  # test metrics go to metrics.json (evaluate)


def resolve_device(choice: str) -> torch.device:
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise InputError("training.device: cuda was asked for but torch sees no CUDA device")
    return torch.device(choice)


@dataclass(frozen=True)
class Architecture:
    """What a model is built from besides the config and the embeddings (kept in checkpoints)."""

    num_classes: int | None  # classification tasks
    score_range: tuple[int, int] | None  # relatedness
    max_length: int  # longest training sentence: IndRNN's recurrent weight bound uses it
    embedding_dim: int

    @classmethod
    def of(cls, dataset: Dataset, embeddings: np.ndarray) -> "Architecture":
        longest = max(len(tokens_of(s)) for example in dataset.splits["train"] for s in example.inputs)
        return cls(dataset.num_classes, dataset.score_range, longest, embeddings.shape[1])

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def build(config: Config, architecture: Architecture, embeddings: np.ndarray):
    """The run's model: its encoder with its task's head."""
    head = task_for(config.task).head(config, architecture.num_classes, architecture.score_range)
    return build_model(config.model, embeddings, head, freeze_embeddings=config.embeddings.frozen,
                       max_length=architecture.max_length)


def make_loader(examples: list[Example], collate: Collate, config: Config, shuffle_seed: int | None):
    """Batches in file order, or shuffled by a generator seeded with ``shuffle_seed``.

    The loader always gets its own generator, so iterating it never draws from torch's global one
    (which dropout uses and checkpoints save).
    """
    return torch.utils.data.DataLoader(
        examples, batch_size=config.training.batch_size, shuffle=shuffle_seed is not None,
        generator=torch.Generator().manual_seed(shuffle_seed or 0), collate_fn=collate,
        num_workers=config.training.workers,
    )


@torch.no_grad()
def predict(task: Task, model, examples: list[Example], collate: Collate, config: Config, device) -> Predictions:
    """The task's predictions for ``examples``, in their order."""
    model.eval()
    ids, gold, predicted, node_gold, node_predicted = [], [], [], [], []
    for batch in make_loader(examples, collate, config, shuffle_seed=None):
        batch = batch.to(device)
        outputs, node_outputs = task.predict(model, batch)
        ids += batch.ids
        gold.append(batch.gold)
        predicted.append(outputs)
        if node_outputs is not None:
            node_gold.append(batch.node_gold)
            node_predicted.append(node_outputs)
    join = np.concatenate
    return Predictions(ids, join(gold), join(predicted),
                       join(node_gold) if node_gold else None, join(node_predicted) if node_predicted else None)


def load_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError) as err:
        raise InputError(f"cannot load checkpoint: {err}", path) from None


def load_best(run_dir: str | os.PathLike):
    """The config, vocabulary, best model (on the config's device) and that device, of a complete run."""
    run_dir = Path(run_dir)
    if not (run_dir / DONE).exists():
        raise InputError(f"not a complete training run (no {DONE}); run treenets train first", run_dir)
    config = load_config(run_dir / RESOLVED_CONFIG)
    device = resolve_device(config.training.device)
    vocab = Vocab.load(run_dir / VOCAB)
    checkpoint = load_checkpoint(run_dir / CHECKPOINT_BEST)
    architecture = Architecture(**checkpoint["architecture"])
    # The weights come from the checkpoint; the matrix only gives the embedding layer its shape.
    model = build(config, architecture, np.zeros((len(vocab), architecture.embedding_dim), dtype=np.float32))
    model.load_state_dict(checkpoint["model"])
    return config, vocab, model.to(device), device


def evaluate(run_dir: str | os.PathLike, split: str = "test") -> dict[str, float]:
    """Score the best checkpoint of a complete run on ``split``; write metrics and predictions
    (``metrics.json``, ``predictions.tsv`` and the task's other files for the test split,
    ``metrics-<split>.json`` etc. for another)."""
    config, vocab, model, device = load_best(run_dir)
    task = task_for(config.task)
    dataset = task.load_dataset(config, [split])
    collate = Collate(task, config, vocab)
    metrics = task.evaluate(lambda examples: predict(task, model, examples, collate, config, device),
                            dataset, split, run_dir)
    summary = {**metrics, "split": split, "examples": len(dataset.splits[split])}
    with atomic_write(output_path(run_dir, "metrics", split, ".json")) as handle:
        json.dump(summary, handle, indent=2)
    return summary
