"""One process of a torchrun group in tests/test_distributed.py: trains a TrainingConfig given as JSON
and writes its own weights and last event, so the test can compare processes with each other; or, with
``die``, runs the CLI in a group where process 1 dies."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from safetensors.torch import save_file

from multigen.distributed import process_group
from multigen.training import Finished, Progress, Trainer, TrainingConfig


def main(config_json: str, out_dir: str, stop_rank: int = -1, stop_after: int = 0) -> None:
    config = TrainingConfig(**json.loads(config_json))
    with process_group(config.device) as shard:
        trainer = Trainer(config, shard=shard)
        finished = None
        for event in trainer:
            if isinstance(event, Progress) and shard.rank == stop_rank and event.step == stop_after:
                trainer.stop()  # asked of one process only: all of them must stop after the same step
            if isinstance(event, Finished):
                finished = event
        state = {name: tensor.contiguous() for name, tensor in trainer.model.state_dict().items()}
        save_file(state, str(Path(out_dir) / f"rank{shard.rank}.safetensors"))
        report = {"rank": shard.rank, "world_size": shard.world_size, "backend": shard.backend,
                  "reason": finished.reason, "step": finished.step,
                  "clusters": clusters.tolist() if (clusters := trainer.model.training_state().get("data/clusters")) is not None else None}
        (Path(out_dir) / f"rank{shard.rank}.json").write_text(json.dumps(report))


def die_in_the_cli(out: str) -> int:
    """`multigen train` in every process, but process 1 dies (as on a lost machine) after its second step."""
    import os

    from multigen import cli, training

    steps = {"done": 0}
    original = training.Trainer._global_losses

    def global_losses(self, losses):
        if self.shard.rank == 1 and steps["done"] == 2:
            os._exit(3)
        steps["done"] += 1
        return original(self, losses)

    training.Trainer._global_losses = global_losses
    return cli.main(["train", "--epochs", "1", "--batch-size", "500", "--eval-samples", "0", "--device", "cpu",
                     "--quiet", "--out", out])


if __name__ == "__main__":
    if sys.argv[1] == "die":
        sys.exit(die_in_the_cli(sys.argv[2]))
    main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:]))
