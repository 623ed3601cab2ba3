"""DPA (directional preference alignment, RSF) and RPS (robust preference selection)."""

from __future__ import annotations

import numpy as np
import pytest

from prefkit.errors import DataError
from prefkit.plural.directions import (
    angle_of,
    direction_from_angle,
    direction_system_prompt,
    direction_weights,
    directional_reward,
    unit_direction,
)
from prefkit.plural.rps import neighbourhood_directions, robust_preference_selection, rps_select

# --- directions: vᵀr and the angle parameterisation, by hand ---------------------------------


def test_angle_parameterisation_and_projection_by_hand() -> None:
    v = direction_from_angle(60.0)
    assert v == pytest.approx([0.5, np.sqrt(3) / 2])
    assert angle_of(v) == pytest.approx(60.0)
    assert angle_of([1.0, -1.0]) == pytest.approx(-45.0)
    assert direction_from_angle(np.pi / 2, degrees=False) == pytest.approx([0.0, 1.0], abs=1e-12)
    # vᵀr: (0.5, 0.866)·(2, 4) = 1 + 3.4641
    assert directional_reward(np.array([2.0, 4.0]), v) == pytest.approx(1 + 2 * np.sqrt(3))
    # non-unit directions are normalised: (3, 4)/5 · r
    r = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, -1.0]])
    assert directional_reward(r, [3.0, 4.0]) == pytest.approx([0.6, 0.8, 0.4])
    assert unit_direction([0.0, 2.0]) == pytest.approx([0.0, 1.0])
    with pytest.raises(DataError, match="non-zero"):
        unit_direction([0.0, 0.0])
    with pytest.raises(DataError, match="3 objectives"):
        directional_reward(np.ones((2, 3)), [1.0, 0.0])


def test_system_prompt_weights() -> None:
    v = direction_from_angle(-15.0)
    # cos(−15°) = 0.9659, sin(−15°) = −0.2588
    assert direction_weights(v) == [97, -26]
    text = direction_system_prompt(v, preamble="Be nice.")
    assert text == ("Be nice. Your response should maximize weighted rating = "
                    "helpfulness*97 + verbosity*-26")
    with pytest.raises(DataError, match="objective names"):
        direction_system_prompt([1.0, 0.0, 0.0])


# --- RSF selection: argmax of vᵀr (closed form on a fixed candidate set) ---------------------


def test_rsf_keeps_argmax_of_directional_reward() -> None:
    from prefkit.align.dpa import select_for_direction

    texts = ["helpful", "verbose", "both"]
    r = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.6]])
    # θ=0 → (1,0): 1, 0, .6 ; θ=90 → 0, 1, .6 ; θ=45 → .707, .707, .849 ; θ=−45 → .707, −.707, 0
    expected = {0.0: "helpful", 90.0: "verbose", 45.0: "both", -45.0: "helpful"}
    for theta, best in expected.items():
        out = select_for_direction("x", texts, r, direction_from_angle(theta))
        assert out["best"] == best, theta
    out = select_for_direction("x", texts, r, direction_from_angle(45.0))
    assert out["score"] == pytest.approx(1.2 / np.sqrt(2))


class _CountEncoder:
    """A stand-in text encoder: counts of kind words, rude words, and all words."""

    id = "counts"
    dim = 3

    def encode(self, texts):
        rows = [[sum(w in GOOD for w in t.split()), sum(w in BAD for w in t.split()),
                 len(t.split())] for t in texts]
        return np.asarray(rows, dtype=np.float32)


def test_multi_objective_reward_model_feeds_directional_selection(one_torch_thread: None) -> None:
    from prefkit.align.dpa import multi_objective_rewards, select_for_direction
    from prefkit.data import PreferenceDataset
    from prefkit.reward.model import RewardModel

    rng = np.random.default_rng(0)
    texts = [_answer(rng) for _ in range(80)]
    truth = _objectives("x", texts)
    records = [{"prompt": "tell me about the cat ?", "text": t,
                "scores": {"helpfulness": float(h + 0.2 * (t.split()[3] in GOOD)),
                           "verbosity": float(v)}}
               for t, (h, v) in zip(texts, truth, strict=True)]
    ds = PreferenceDataset.from_records(records, kind="rating")
    rm = RewardModel(_CountEncoder(), "multi", hidden=4, epochs=20).fit(
        ds, ds.to_pairs(attribute="helpfulness"))
    rewards = multi_objective_rewards(rm, ["verbosity", "helpfulness"])
    fresh = [_answer(rng) for _ in range(50)]
    r = rewards("tell me about the cat ?", fresh)
    t = _objectives("x", fresh)
    assert r.shape == (50, 2)
    assert np.corrcoef(r[:, 0], t[:, 1])[0, 1] > 0.99          # verbosity is exactly linear
    assert np.corrcoef(r[:, 1], t[:, 0])[0, 1] > 0.8
    long_ = select_for_direction("x", fresh, r, direction_from_angle(0.0))["best"]
    assert len(long_.split()) == max(len(f.split()) for f in fresh)
    with pytest.raises(DataError, match="no attribute 'safety'"):
        multi_objective_rewards(rm, ["safety"])


# --- RPS ---------------------------------------------------------------------------------------


def test_neighbourhood_layout() -> None:
    v = direction_from_angle(30.0)
    dirs = neighbourhood_directions(v, k=5, max_angle=20.0)
    angles = [angle_of(d) for d in dirs]
    assert angles == pytest.approx([10.0, 20.0, 30.0, 40.0, 50.0])
    d3 = neighbourhood_directions([1.0, 1.0, 1.0], k=4, max_angle=25.0, seed=3)
    cosines = d3 @ unit_direction([1.0, 1.0, 1.0])
    assert np.linalg.norm(d3, axis=1) == pytest.approx(np.ones(4))
    assert np.degrees(np.arccos(np.clip(cosines, -1, 1))) == pytest.approx(
        [0.0, 25 / 3, 50 / 3, 25.0], abs=1e-6)


def test_rps_selection_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    v = direction_from_angle(70.0)
    for _ in range(20):
        r = rng.normal(size=(7, 2))
        brute = max(range(7), key=lambda i: v[0] * r[i, 0] + v[1] * r[i, 1])
        assert rps_select(r, v) == brute
    # the whole procedure: the pool is drawn at the neighbourhood directions, judged under v
    seen: list[np.ndarray] = []

    def generate(prompt: str, d: np.ndarray, n: int) -> list[str]:
        seen.append(d)
        return [f"{angle_of(d):.0f}:{i}" for i in range(n)]

    def rewards(prompt: str, texts: list[str]) -> np.ndarray:
        # a response "made at angle a" has reward vector (cos a', sin a') with a' = 2a − 60
        a = np.array([float(t.split(":")[0]) for t in texts])
        return np.stack([np.cos(np.radians(2 * a - 60)), np.sin(np.radians(2 * a - 60))], 1)

    out = robust_preference_selection("x", v, generate, rewards, k=5, n_per_direction=2,
                                      max_angle=20.0)
    assert [round(angle_of(d)) for d in seen] == [50, 60, 70, 80, 90]
    scores = directional_reward(np.array(out["rewards"]), v)
    assert out["index"] == int(np.argmax(scores))
    # 2a − 60 = 70 ⇔ a = 65: the neighbour at 60° (→ 60) beats v's own 70° (→ 80)
    assert out["best"].startswith("60:")
    assert out["direction"] == pytest.approx(direction_from_angle(60.0).tolist())


def _toy_policy(rng: np.random.Generator, width: float = 35.0):
    """A direction-conditioned generator trained around θ = 0 (helpfulness only): a response for
    direction u has reward vector q(u)·(cos φ, sin φ) + noise, φ ≈ ∠u, quality q falling with
    the distance of ∠u from the training mass."""
    def generate(prompt: str, d: np.ndarray, n: int) -> list[str]:
        a = angle_of(d)
        q = np.exp(-(a / width) ** 2)
        phi = np.radians(a + rng.normal(0, 8.0, n))
        r = q[None] * np.stack([np.cos(phi), np.sin(phi)], 1) + rng.normal(0, 0.08, (n, 2))
        return [f"{x:.6f},{y:.6f}" for x, y in r]

    def rewards(prompt: str, texts: list[str]) -> np.ndarray:
        return np.array([[float(s) for s in t.split(",")] for t in texts])

    return generate, rewards


def _win_rate(theta: float, trials: int, true_offset: float = 0.0) -> float:
    rng = np.random.default_rng(1)
    generate, rewards = _toy_policy(rng)
    v = direction_from_angle(theta)
    truth = direction_from_angle(theta + true_offset)  # the user's true direction
    wins = 0.0
    for t in range(trials):
        rps = robust_preference_selection("x", v, generate, rewards, k=5, n_per_direction=2,
                                          max_angle=25.0, seed=t)
        base = robust_preference_selection("x", v, generate, rewards, k=5, n_per_direction=2,
                                           max_angle=0.0, seed=t)
        a = directional_reward(np.array(rps["rewards"][rps["index"]]), truth)
        b = directional_reward(np.array(base["rewards"][base["index"]]), truth)
        wins += 1.0 if a > b else 0.5 if a == b else 0.0
    return wins / trials


def test_rps_beats_multi_sample_baseline_on_rare_directions() -> None:
    far = _win_rate(65.0, 300)
    centre = _win_rate(0.0, 300)
    perturbed = _win_rate(65.0, 300, true_offset=-10.0)
    # rare direction: neighbours towards the training mass give better candidates under v
    assert far > 0.65, far
    # at the centre, neighbours are worse-trained: RPS has no edge there
    assert centre < 0.5, centre
    # and the gain holds when the user's true direction is 10° off the stated one
    assert perturbed > 0.65, perturbed


def test_rps_bad_inputs() -> None:
    with pytest.raises(DataError, match="non-empty"):
        rps_select(np.zeros((0, 2)), [1.0, 0.0])
    with pytest.raises(DataError, match="NaN"):
        rps_select(np.array([[np.nan, 1.0]]), [1.0, 0.0])
    with pytest.raises(DataError, match="max_angle"):
        neighbourhood_directions([1.0, 0.0], k=3, max_angle=200.0)


# --- DPA on a tiny model: two directions pull verbosity apart ----------------------------------

GOOD = ["kind", "helpful", "lovely", "bright", "gentle", "clever", "calm", "useful", "warm"]
BAD = ["stupid", "boring", "ugly", "awful", "useless", "rude", "dull", "nasty", "bad"]
SUBJECTS = ["cat", "dog", "bird", "tree", "river", "city", "book", "song"]


def _answer(rng: np.random.Generator) -> str:
    subject = str(rng.choice(SUBJECTS))
    adjs = [str(rng.choice(GOOD if rng.random() < 0.5 else BAD))
            for _ in range(int(rng.integers(1, 6)))]
    return f"the {subject} is {' and '.join(adjs)} ."


def _objectives(prompt: str, texts: list[str]) -> np.ndarray:
    """(helpfulness, verbosity): share of kind adjectives minus rude ones (−1 for an answer that
    is not of the form "the <subject> is <adj> [and <adj>]… ."); words / 5."""
    out = []
    for t in texts:
        words = t.split()
        adjs = words[3:-1:2]
        well_formed = (len(words) >= 5 and words[0] == "the" and words[2] == "is"
                       and words[-1] == "." and all(w in GOOD or w in BAD for w in adjs)
                       and all(w == "and" for w in words[4:-1:2]))
        good = sum(w in GOOD for w in adjs)
        help_ = (2 * good - len(adjs)) / len(adjs) if well_formed else -1.0
        out.append([help_, min(len(words), 30) / 5])
    return np.array(out)


def _tiny_conditioned(angles: list[float]):
    from prefkit.align.tiny import build_model, build_tokenizer, pretrain

    rng = np.random.default_rng(0)
    texts = []
    for i in range(300):
        system = direction_system_prompt(direction_from_angle(angles[i % len(angles)]))
        resp = _answer(rng)
        subject = resp.split()[1]
        texts.append(f"<|system|> {system} <|user|> tell me about the {subject} ? "
                     f"<|assistant|> {resp} </s>")
    tok = build_tokenizer(texts)
    model = build_model(tok, hidden_size=64, layers=2, seed=0)
    pretrain(model, tok, texts, steps=150, seed=0)
    return model, tok


def _mean_objectives(model, tok, prompts, v, n=8) -> np.ndarray:
    from prefkit.align.dpa import generate_conditioned

    rows = [_objectives(p, generate_conditioned(model, tok, p, v, n, max_new_tokens=20))
            for p in prompts]
    return np.concatenate(rows).mean(0)


@pytest.fixture
def one_torch_thread():
    """One intra-op thread: on the 2 busy shared cores, two OpenMP threads make this tiny
    model's steps erratic and up to ~100× slower."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_dpa_rounds_move_objectives_along_each_direction(one_torch_thread: None) -> None:
    import torch

    from prefkit.align.dpa import DPAConfig, train_dpa

    angles = [45.0, -30.0]  # helpful and verbose  vs  helpful and concise
    model, tok = _tiny_conditioned(angles)
    prompts = [f"tell me about the {s} ?" for s in SUBJECTS]
    dirs = [direction_from_angle(a) for a in angles]
    torch.manual_seed(0)
    before = [_mean_objectives(model, tok, prompts, v) for v in dirs]
    config = DPAConfig(iterations=3, n_samples=8, sft_epochs=4, batch_size=8, lr=3e-3,
                       max_new_tokens=20, seed=0)
    history = train_dpa(model, tok, prompts, dirs, _objectives, config)
    torch.manual_seed(1)
    after = [_mean_objectives(model, tok, prompts, v) for v in dirs]
    assert len(history) == 3 and history[0]["kept"] == len(prompts) * 2
    gap_before = before[0][1] - before[1][1]
    gap_after = after[0][1] - after[1][1]
    # verbosity: the +45° direction now writes longer answers than the −30° one
    assert gap_after > gap_before + 0.3, (before, after)
    print("DPA before", before, "after", after)
    # helpfulness (asked for by both directions) went up under each
    assert after[0][0] > before[0][0] + 0.2 and after[1][0] > before[1][0] + 0.2, (before, after)
    # each direction's own score vᵀr improved
    for v, b, a in zip(dirs, before, after, strict=True):
        assert v @ a > v @ b


# --- command line ------------------------------------------------------------------------------


def test_align_dpa_and_rps_commands(tmp_path, one_torch_thread: None) -> None:
    import json

    from typer.testing import CliRunner

    import prefkit
    from prefkit.cli.align import align_app
    from prefkit.data import PreferenceDataset
    from prefkit.reward.model import RewardModel

    rng = np.random.default_rng(0)
    texts = [_answer(rng) for _ in range(30)]
    truth = _objectives("x", texts)
    ds = PreferenceDataset.from_records(
        [{"prompt": "tell me about the cat ?", "text": t,
          "scores": {"helpfulness": float(h), "verbosity": float(v)}}
         for t, (h, v) in zip(texts, truth, strict=True)], kind="rating")
    rm = RewardModel(None, "multi", hidden=4, epochs=5).fit(
        ds, ds.to_pairs(attribute="helpfulness"))
    rm_dir = prefkit.save(rm, tmp_path / "rm")
    (tmp_path / "prompts.txt").write_text("tell me about the cat ?\ndescribe the river ?\n")
    runner = CliRunner()
    common = ["--reward", str(rm_dir), "--prompts", str(tmp_path / "prompts.txt"),
              "--objectives", "helpfulness,verbosity", "--max-new-tokens", "12"]
    res = runner.invoke(align_app, ["dpa", "tiny", *common, "--angle", "45", "--angle=-30",
                                    "--iterations", "1", "--n", "3", "--lr", "1e-3",
                                    "--out", str(tmp_path / "run"), "--json"])
    assert res.exit_code == 0, res.output
    record = json.loads((tmp_path / "run" / "dpa_history.json").read_text())
    assert record["objectives"] == ["helpfulness", "verbosity"]
    assert record["rounds"][0]["kept"] == 4          # 2 prompts × 2 directions
    assert (tmp_path / "run" / "policy" / "config.json").is_file()
    res = runner.invoke(align_app, ["rps", str(tmp_path / "run" / "policy"), *common,
                                    "--angle", "70", "--k", "3", "--n", "2"])
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in res.output.splitlines() if x.startswith("{")]
    assert len(lines) == 2
    for rec in lines:
        assert len(rec["candidates"]) == 6 and rec["sources"] == [0, 0, 1, 1, 2, 2]
        assert rec["index"] == int(np.argmax(rec["scores"]))
        v = direction_from_angle(70.0)
        assert rec["scores"] == pytest.approx((np.array(rec["rewards"]) @ v).tolist())
    # people's errors: one line, exit 2
    res = runner.invoke(align_app, ["rps", "tiny", *common])
    assert res.exit_code == 2 and "--angle or --direction" in res.output
    res = runner.invoke(align_app, ["rps", "tiny", *common[:4], "--objectives", "safety",
                                    "--angle", "10"])
    assert res.exit_code == 2 and "no attribute 'safety'" in res.output
