"""Where a trained RecNN/RNTN's phrase units sit: for each finished run folder given, the mean |.| of
W [b; c] + b and of the tensor term at the phrase nodes of the first 300 dev trees, and the share of
pre-activations beyond +-2 (where tanh' < 0.07).
    TREENETS_DATA_MIRROR=../shared/data python docs/results/reproduction/cpu/ablations/saturation.py RUN_DIR...
"""

import sys

import torch

from treenets.inference import load_best
from treenets.tasks import Collate, load_dataset, task_for


def phrase_preactivations(run_dir: str, trees: int = 300) -> dict[str, torch.Tensor]:
    config, vocab, model, device = load_best(run_dir)
    examples = load_dataset(config, ["dev"]).splits["dev"][:trees]
    encoder, parts = model.encoder, {"linear": [], "total": []}
    preactivation = encoder.preactivation

    def recording(children):
        parts["linear"].append(encoder.linear_term(children))
        parts["total"].append(preactivation(children))
        return parts["total"][-1]

    encoder.preactivation = recording
    model.eval()
    with torch.no_grad():
        model(*Collate(task_for(config.task), config, vocab)(examples).to(device).inputs)
    linear, total = torch.cat(parts["linear"]), torch.cat(parts["total"])
    return {"linear": linear, "tensor": total - linear, "total": total}


if __name__ == "__main__":
    for run in sys.argv[1:]:
        parts = phrase_preactivations(run)
        print(run, "  ".join(f"{name} |.| {v.abs().mean():.2f}" for name, v in parts.items()),
              f"  beyond +-2: {(parts['total'].abs() > 2).float().mean():.1%}")
