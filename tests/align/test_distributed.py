"""Two CPU processes (torchrun, gloo) train to the weights of one process, same global batch
(DPO with accumulation, KTO with packing, Plackett–Luce lists, unpaired KTO)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from prefkit.align.trainer import POLICY_DIR, REFERENCE_FILE, AlignConfig, AlignTrainer

WORKER = Path(__file__).with_name("_ddp_worker.py")


def _load(path: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def test_two_processes_match_one(tiny_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("accelerate")
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    sys.path.insert(0, str(WORKER.parent))
    from _ddp_worker import RUNS, SIZES, dataset, first_grad

    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    env.pop("WORLD_SIZE", None)
    ddp = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
           "2", str(WORKER), str(tiny_dir), str(ddp)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    if res.returncode != 0:  # show the lines that say why, then the end
        why = [ln for ln in res.stderr.splitlines()
               if any(w in ln for w in ("Error", "error", "terminate", "what()", "Exception"))]
        pytest.fail("\n".join(why[-30:]) + "\n...\n" + res.stderr[-3000:])
    base = AutoModelForCausalLM.from_pretrained(tiny_dir).state_dict()

    for name, config in RUNS.items():
        infos = [json.loads((ddp / name / f"rank{r}.json").read_text()) for r in (0, 1)]
        assert [i["world"] for i in infos] == [2, 2]
        single = tmp_path / "single" / name
        model, tok = _load(tiny_dir)
        trainer = AlignTrainer(model, tok, AlignConfig(**config))
        grads: list[torch.Tensor] = []
        history = trainer.train(dataset(name), out_dir=single, callback=lambda t, r, g=grads: (
            g.append(first_grad(t)) if r["step"] == 1 else None))
        assert trainer.accelerator.num_processes == 1

        # each process forwarded its own half of every micro-batch of the (seed, step) order
        n, accum = SIZES[name], config.get("grad_accum", 1)
        assert len(infos[0]["seen"]) == config["max_steps"] * accum
        for k, (mine, theirs) in enumerate(zip(infos[0]["seen"], infos[1]["seen"], strict=True)):
            full = trainer.batch_indices(k // accum, k % accum, n)
            assert mine == full[0::2].tolist() and theirs == full[1::2].tolist(), name

        # one reference file, written by the main process, equal to the single-process one
        ref_ddp = load_file(ddp / name / REFERENCE_FILE)
        ref_one = load_file(single / REFERENCE_FILE)
        assert ref_ddp.keys() == ref_one.keys()
        for k in ref_one:
            assert torch.equal(ref_ddp[k], ref_one[k]), (name, k)
        # the all-reduced gradient of step 1 is the full-batch gradient, on both ranks
        g0, g1 = (load_file(ddp / f"{name}-grad{r}.safetensors")["grad"] for r in (0, 1))
        assert torch.equal(g0, g1) and float(grads[0].abs().max()) > 1e-3
        torch.testing.assert_close(g0, grads[0], atol=1e-6, rtol=1e-4, msg=name)
        # the history covers the global batch: the same on both ranks, close to one process
        same = [[{k: v for k, v in h.items() if k != "seconds"} for h in i["history"]]
                for i in infos]
        assert same[0] == same[1]
        for a, b in zip(infos[0]["history"], history, strict=True):
            assert a["loss"] == pytest.approx(b["loss"], abs=1e-5), name
            assert a["reward_accuracy"] == pytest.approx(b["reward_accuracy"]), name
            # the DDP-averaged gradient is the full-batch one (Adam would hide a scale error)
            assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-4), name
        # same weights up to float32 round-off (each process pads and sums its own half-batch;
        # Adam's g/√v magnifies round-off on near-zero gradients, hence the small learning rate)
        merged = AutoModelForCausalLM.from_pretrained(ddp / name / POLICY_DIR).state_dict()
        worst, moved = 0.0, 0.0
        for key, p in model.state_dict().items():
            worst = max(worst, float((merged[key] - p).abs().max()))
            moved = max(moved, float((p - base[key]).abs().max()))
        assert worst < 1e-5 and moved > 2e-4, (name, worst, moved)
        # checkpoints were written once per step, by rank 0 only (no temporary leftovers)
        names = sorted(p.name for p in (ddp / name / "checkpoints").iterdir())
        assert names == [f"step-{s:08d}" for s in range(1, config["max_steps"] + 1)]
