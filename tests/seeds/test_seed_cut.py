"""CUT (row 56 of docs/seeds.md): the loss term by term, the judgment-ratio detection rule, the
per-token log-probs in the trainer's convention, and a few training steps on the tiny LM."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from prefkit.align.losses import get_loss  # noqa: E402
from prefkit.align.losses.cut import (  # noqa: E402
    cut_model_loss,
    cut_token_loss,
    inappropriate_tokens,
    response_token_logps,
)


def test_cut_loss_term_by_term():
    lp = torch.log(torch.tensor([[0.5, 0.25, 0.8], [0.5, 0.25, 0.8]]))
    judged = torch.log(torch.tensor([[0.5, 0.9, 0.8], [0.5, 0.9, 0.8]]))
    mask = torch.tensor([[True, True, False], [True, True, True]])
    negative = torch.tensor([False, True])
    out = cut_token_loss(lp, mask, negative, judged_token_logps=judged, threshold=2.0)
    # row 0 positive: plain NLL of the two response tokens, nothing flagged
    assert out.losses[0].item() == pytest.approx(-math.log(0.5) - math.log(0.25))
    # row 1 negative: token 1 is flagged (0.9 / 0.25 = 3.6 > 2), tokens 0 and 2 are kept;
    # plus the Misalign-N NLL under the judgment
    expected = (-math.log(0.5) - math.log(0.8) - math.log(1 - 0.25)
                - (math.log(0.5) + math.log(0.9) + math.log(0.8)))
    assert out.losses[1].item() == pytest.approx(expected, rel=1e-5)
    assert out.flagged.tolist() == [[False, False, False], [False, True, False]]
    # γ = 0 drops the judgment term; an explicit flagged mask overrides detection
    flagged = torch.tensor([[True, True, True], [True, False, False]])
    out = cut_token_loss(lp, mask, negative, flagged=flagged, misalign_coef=0.0)
    assert out.flagged.tolist() == [[False, False, False], [True, False, False]]
    assert out.losses[1].item() == pytest.approx(
        -math.log(1 - 0.5) - math.log(0.25) - math.log(0.8), rel=1e-5)
    with pytest.raises(ValueError, match="judged_token_logps"):
        cut_token_loss(lp, mask, negative)


def test_detection_is_the_judgment_likelihood_ratio():
    lp = torch.log(torch.tensor([[0.1, 0.1, 0.1]]))
    judged = torch.log(torch.tensor([[0.1, 0.109, 0.12]]))
    mask = torch.ones(1, 3, dtype=torch.bool)
    assert inappropriate_tokens(lp, judged, mask, 1.1).tolist() == [[False, False, True]]
    assert inappropriate_tokens(lp, judged, mask, 1.0).tolist() == [[False, True, True]]
    with pytest.raises(ValueError):
        inappropriate_tokens(lp, judged, mask, 0.9)
    assert get_loss("cut").kind == "token"  # registered; the sequence-level trainer refuses it


@pytest.fixture
def one_thread():
    """Torch on one thread for these tiny models (threads only add contention here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_token_logps_match_the_trainer_and_cut_trains_a_tiny_lm(one_thread):
    pytest.importorskip("transformers")
    from prefkit.align import tiny
    from prefkit.align.pairs import (
        collate_sequences,
        encode_prompt,
        encode_response,
        sequence_logps,
    )

    tok = tiny.build_tokenizer(tiny.corpus(60))
    prompt = "tell me about the cat ?"
    bad = "sure ! the cat is stupid and kind ."
    good = "sure ! the cat is kind and calm ."
    model = tiny.build_model(tok, hidden_size=32, layers=1, seed=0)
    logps, mask = response_token_logps(model, tok, [prompt, prompt], [bad, good])
    batch = collate_sequences([encode_prompt(tok, prompt)] * 2,
                              [encode_response(tok, bad), encode_response(tok, good)],
                              tok.pad_token_id)
    summed, lengths = sequence_logps(model, batch)
    assert torch.allclose((logps * mask).sum(-1), summed, atol=1e-4)
    assert mask.sum(-1).tolist() == lengths.tolist()

    stupid = encode_response(tok, bad).index(tok.convert_tokens_to_ids("stupid"))

    def train(flagged: list[int]) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(before, after): log p of the flagged word, mean log p of the rest of the negative
        response, mean log p of the positive response."""
        model = tiny.build_model(tok, hidden_size=32, layers=1, seed=0)
        examples = [
            {"prompt": prompt, "response": bad, "judgment": "stupid is rude", "negative": True,
             "flagged": flagged},
            {"prompt": prompt, "response": good, "judgment": "", "negative": False,
             "flagged": []},
        ]

        def measure() -> tuple[float, ...]:
            with torch.no_grad():
                lp, m = response_token_logps(model, tok, [prompt, prompt], [bad, good])
            kept = m[0].clone()
            kept[stupid] = False
            return lp[0, stupid].item(), lp[0][kept].mean().item(), lp[1][m[1]].mean().item()

        before = measure()
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(8):
            out = cut_model_loss(model, tok, examples, misalign_coef=0.0)
            opt.zero_grad()
            out.losses.mean().backward()
            opt.step()
        assert out.flagged[0].sum().item() == len(flagged) and not out.flagged[1].any()
        return before, measure()

    before, cut = train([stupid])
    _, mle = train([])  # nothing flagged: plain likelihood on both responses
    assert cut[0] < before[0] - 0.3  # the flagged word is pushed down (unlikelihood) ...
    assert mle[0] > before[0] + 1.0  # ... where likelihood training would raise it
    assert cut[1] > before[1] + 1.0 and cut[2] > before[2] + 1.0  # the rest is learnt
