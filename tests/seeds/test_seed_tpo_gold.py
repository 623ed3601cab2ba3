"""TPO's gold response through the trainer (row 47 of docs/seeds.md): a ``gold_text`` column is
scored and its NLL trained; without the column the chosen response stays the gold one."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from prefkit.align import tiny  # noqa: E402
from prefkit.align.losses.cut import response_token_logps  # noqa: E402
from prefkit.align.pairs import encode_response  # noqa: E402
from prefkit.align.trainer import AlignConfig, AlignTrainer  # noqa: E402
from prefkit.data import PreferenceDataset  # noqa: E402
from prefkit.errors import DataError  # noqa: E402

GOLD = "the {} is a river and a garden and a song ."  # words chosen answers never use


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _data(with_gold: bool) -> PreferenceDataset:
    records = tiny.synthetic_records(8, seed=5)
    if with_gold:
        for r in records:
            r["gold_text"] = GOLD.format(r["prompt"].split()[-2])
    return PreferenceDataset.from_records(records, kind="pairwise")


def test_tpo_trains_the_gold_column(one_thread):
    tok = tiny.build_tokenizer(tiny.corpus(60))
    data = _data(True)
    prompts = list(data.column("prompt"))
    golds = list(data.column("gold_text"))

    def gold_logp(model) -> float:
        with torch.no_grad():
            lp, mask = response_token_logps(model, tok, prompts, golds)
        return float((lp * mask).sum() / mask.sum())

    cfg = AlignConfig(loss="tpo", beta=0.1, learning_rate=5e-3, max_steps=6, batch_size=4,
                      loss_params={"alpha": 1.0})
    results = {}
    for name, ds in (("gold", data), ("chosen", _data(False))):
        model = tiny.build_model(tok, hidden_size=32, layers=1, seed=0)
        before = gold_logp(model)
        trainer = AlignTrainer(model, tok, cfg)
        pairs = trainer.prepare(ds)
        if name == "gold":
            assert pairs.gold_ids == [encode_response(tok, g) for g in golds]
        else:
            assert pairs.gold_ids == []  # no column: the loss falls back to the chosen response
        hist = trainer.train(ds)
        assert all(torch.isfinite(torch.tensor(h["loss"])) for h in hist)
        results[name] = gold_logp(model) - before
    # the gold responses gain likelihood much faster when they are what the NLL term trains
    assert results["gold"] > results["chosen"] + 0.6 and results["gold"] > 0.8

    broken = data.to_records()
    broken[3]["gold_text"] = None
    with pytest.raises(DataError, match="gold_text"):
        AlignTrainer(tiny.build_model(tok, hidden_size=32, layers=1), tok, cfg).prepare(
            PreferenceDataset.from_records(broken, kind="pairwise"))
