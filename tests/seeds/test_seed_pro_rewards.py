"""PRO with reward-model scores as its temperatures (row 61 of docs/seeds.md): a ranking
record's ``rewards`` column becomes the list labels the trainer hands to ``pro_loss``."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from prefkit.align import tiny  # noqa: E402
from prefkit.align.lists import synthetic_rankings, text_lists  # noqa: E402
from prefkit.align.losses import pro_loss  # noqa: E402
from prefkit.align.trainer import AlignConfig, AlignTrainer  # noqa: E402
from prefkit.data import PreferenceDataset  # noqa: E402
from prefkit.errors import DataError  # noqa: E402


def _with_rewards(n: int = 6) -> PreferenceDataset:
    records = synthetic_rankings(n, seed=2, k=3).to_records()
    for r in records:  # best first; one reward-model score per text
        r["rewards"] = [2.5, 1.0, -0.5]
    return PreferenceDataset.from_records(records, kind="ranking")


def test_rewards_become_the_list_labels_and_pro_temperatures():
    lists = text_lists(_with_rewards())
    for labels in lists.labels:  # best first, the reward of each text
        assert labels.tolist() == [2.5, 1.0, -0.5]
    # the same list with rank labels ψ = (2, 1, 0) gives other temperatures, hence another loss
    s = torch.tensor([[-1.0, -1.5, -0.7]])
    with_rewards = pro_loss(s, torch.tensor([[2.5, 1.0, -0.5]])).losses
    with_ranks = pro_loss(s, torch.tensor([[2.0, 1.0, 0.0]])).losses
    assert not torch.allclose(with_rewards, with_ranks)
    broken = _with_rewards(2).to_records()
    broken[1]["rewards"] = [1.0, 2.0]
    with pytest.raises(DataError, match="rewards"):
        text_lists(PreferenceDataset.from_records(broken, kind="ranking"))


def test_trainer_runs_pro_on_reward_labels():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tok = tiny.build_tokenizer(tiny.corpus(60))
        model = tiny.build_model(tok, hidden_size=32, layers=1, seed=0)
        cfg = AlignConfig(loss="pro", beta=0.1, learning_rate=5e-3, max_steps=2, batch_size=3)
        trainer = AlignTrainer(model, tok, cfg)
        data = _with_rewards()
        prepared = trainer.prepare(data)
        assert [lab.tolist() for lab in prepared.labels] == [[2.5, 1.0, -0.5]] * 6
        hist = trainer.train(data)
        assert len(hist) == 2 and all(torch.isfinite(torch.tensor(h["loss"])) for h in hist)
    finally:
        torch.set_num_threads(threads)
