r"""Reward over-optimisation: gold vs proxy reward as the policy moves away from its start.

Gao et al. 2023 ("Scaling Laws for Reward Model Overoptimization") plot the gold reward of a
policy optimised against a *proxy* reward model against d = √KL(π ‖ π_0): the proxy keeps rising
while the gold reward peaks and falls.  Coste et al. 2024 show that conservative ensembles
(WCO, UWO) move the peak later.

* **Best-of-N**: KL(π_bon ‖ π_0) = log N − (N−1)/N for continuous (tie-free) rewards (Stiennon
  et al. 2020, App. G.3; Beirami et al. 2024 bound the discrete case by it).
  :func:`bon_kl_monte_carlo` estimates the KL by Monte Carlo on a discrete base distribution —
  E_{y ~ π_bon}[log π_bon(y)/π_0(y)], with π_bon(y_i) = F(r_i)^N − F(r_i⁻)^N — and approaches
  the formula as the support grows (tested).
* **Proxy reward models** trained on a limited number of gold-labelled pairs
  (:func:`train_proxy`): completions of the base policy, labels drawn from Bradley–Terry on the
  gold reward, a prefkit ``RewardModel`` on bag-of-words features of the completion (single
  linear head, or an ensemble head aggregated by WCO/UWO).
* :func:`run_overopt` traces best-of-N (unbiased estimator over N samples per prompt,
  :func:`prefkit.align.sampling.overoptimization_curve`) and online runs
  (:class:`~prefkit.align.online.trainer.OnlineTrainer`, one point per step) for every proxy and
  seed, and writes ``curves.json``, ``curves.csv`` and ``curves.png``.

Why the demo over-optimises (gold :func:`~prefkit.align.online.gold.politeness_no_repeats`):
the gold reward counts each polite word once and charges every repeated word.  Base-policy
samples seldom repeat a word, so on the proxy's training distribution "more polite words" and
"more gold" go together, and a bag-of-words proxy — which sees counts, not repetitions — learns
"+1 per polite word".  Off that distribution the two part: a policy pushed hard against the
proxy says the same polite word again and again, and the gold reward falls while the proxy
keeps rising.  Ensemble members disagree most on word counts far outside what they were
trained on, which is what WCO (min) and UWO (mean − λ·var) penalise.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from prefkit.align.sampling import kl_bon, overoptimization_curve

CSV_FIELDS = ("method", "proxy", "seed", "x", "kl", "sqrt_kl", "proxy_reward", "gold")


def bon_kl_exact(probs: np.ndarray, rewards: np.ndarray, n: int) -> float:
    """KL(best-of-n ‖ base) of a discrete base distribution with distinct rewards."""
    p_bon, p = _bon_distribution(probs, rewards, n)
    keep = p_bon > 0
    return float(np.sum(p_bon[keep] * np.log(p_bon[keep] / p[keep])))


def _bon_distribution(probs: np.ndarray, rewards: np.ndarray, n: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probs, float) / np.sum(probs)
    order = np.argsort(rewards, kind="stable")
    cdf = np.cumsum(p[order])
    below = np.concatenate([[0.0], cdf[:-1]])
    p_bon = np.empty_like(p)
    p_bon[order] = np.clip(cdf, 0, 1) ** n - np.clip(below, 0, 1) ** n
    return p_bon, p


def bon_kl_monte_carlo(probs: np.ndarray, rewards: np.ndarray, n: int, *, samples: int = 20000,
                       seed: int = 0) -> tuple[float, float]:
    """Monte-Carlo estimate (mean, standard error) of KL(best-of-n ‖ base): draw n outcomes
    from the base, keep the best by reward, average log π_bon(y)/π_0(y) over ``samples``
    draws."""
    rng = np.random.default_rng(seed)
    p_bon, p = _bon_distribution(probs, rewards, n)
    draws = rng.choice(len(p), size=(samples, n), p=p)
    best = np.take_along_axis(draws, np.argmax(np.asarray(rewards)[draws], axis=1)[:, None],
                              axis=1)[:, 0]
    values = np.log(p_bon[best] / p[best])
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(samples))


class BagOfWordsEncoder:
    """Word counts of the completion (text after the last blank line) over a fixed vocabulary:
    a transparent feature map for small proxy reward models."""

    def __init__(self, vocabulary: Sequence[str]) -> None:
        self.vocabulary = sorted(set(vocabulary))
        self.index = {w: i for i, w in enumerate(self.vocabulary)}
        self.id = "bow-" + str(abs(hash(tuple(self.vocabulary))) % 10**8)

    @property
    def dim(self) -> int:
        return len(self.vocabulary) + 1

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for k, text in enumerate(texts):
            words = str(text).split("\n\n")[-1].split()
            for w in words:
                i = self.index.get(w)
                if i is not None:
                    out[k, i] += 1.0
            out[k, -1] = len(words) / 10.0
        return out


def gold_labelled_pairs(model: Any, tokenizer: Any, prompts: Sequence[str],
                        gold: Callable[..., Any], n_pairs: int, *, seed: int = 0,
                        max_new_tokens: int = 24) -> Any:
    """``n_pairs`` pairs of base-policy completions labelled by Bradley–Terry on ``gold``."""
    from prefkit.align.online.sampling import sample_rollout
    from prefkit.data import PreferenceDataset

    rng = np.random.default_rng(seed)
    chosen = [prompts[i] for i in rng.integers(0, len(prompts), n_pairs)]
    rollout = sample_rollout(model, tokenizer, chosen, n=2, max_new_tokens=max_new_tokens,
                             seed=seed, logps=False)
    a, b = rollout.texts[0::2], rollout.texts[1::2]
    ga, gb = np.asarray(gold(chosen, a), float), np.asarray(gold(chosen, b), float)
    wins = rng.random(n_pairs) < 1.0 / (1.0 + np.exp(-(ga - gb)))
    records = [{"prompt": x, "a_text": ya, "b_text": yb, "winner": "a" if w else "b"}
               for x, ya, yb, w in zip(chosen, a, b, wins, strict=True)]
    return PreferenceDataset.from_records(records, kind="pairwise", name="gold-labelled")


def train_proxy(pairs: Any, vocabulary: Sequence[str], *, members: int = 1, seed: int = 0,
                weight_decay: float = 1e-2) -> Any:
    """A prefkit ``RewardModel`` on bag-of-words features: linear BT head, or an ensemble head
    of ``members`` bootstrap members (fixed ``weight_decay``: no cross-validation)."""
    from prefkit.reward import RewardModel

    encoder = BagOfWordsEncoder(vocabulary)
    if members <= 1:
        model = RewardModel(encoder=encoder, head="linear", inputs="packed", seed=seed,
                            weight_decay=weight_decay)
    else:
        model = RewardModel(encoder=encoder, head="ensemble", inputs="packed", members=members,
                            bootstrap=True, seed=seed, weight_decay=weight_decay)
    return model.fit(pairs)


def tiny_vocabulary(tokenizer: Any) -> list[str]:
    """The words of a word-level tokenizer (special tokens left out)."""
    return [w for w in tokenizer.get_vocab() if not (w.startswith("<") and w.endswith(">"))]


def summarise(points: list[dict[str, float]]) -> dict[str, float]:
    """Start, peak and end of a gold curve (points ordered by KL / step)."""
    gold = np.array([p["gold"] for p in points], float)
    ok = np.isfinite(gold)
    if not ok.any():
        return {}
    idx = np.flatnonzero(ok)
    peak = int(idx[np.argmax(gold[ok])])
    return {"gold_start": float(gold[idx[0]]), "gold_peak": float(gold[peak]),
            "sqrt_kl_at_peak": float(points[peak]["sqrt_kl"]),
            "gold_end": float(gold[idx[-1]]), "sqrt_kl_end": float(points[idx[-1]]["sqrt_kl"]),
            "proxy_start": float(points[idx[0]]["proxy_reward"]),
            "proxy_end": float(points[idx[-1]]["proxy_reward"])}


def curve_key(method: str, proxy: str, seed: int) -> str:
    """``method/proxy/seed``, the key of one curve in ``curves.json``."""
    return f"{method}/{proxy}/{seed}"


def summarise_over_seeds(summary: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per ``method/proxy``: the mean over seeds of each summary number, the number of seeds,
    and — for an ensemble proxy — ``later_peak_seeds``, the seeds whose gold peak lies at a
    larger √KL than the single proxy's, and ``higher_end_seeds``, those ending with more gold."""
    groups: dict[str, list[tuple[str, dict[str, float]]]] = {}
    for key, numbers in summary.items():
        method, proxy, seed = key.rsplit("/", 2)
        if numbers:
            groups.setdefault(f"{method}/{proxy}", []).append((seed, numbers))
    out: dict[str, dict[str, float]] = {}
    for group, rows in groups.items():
        mean = {k: float(np.mean([r[k] for _, r in rows])) for k in rows[0][1]}
        mean["seeds"] = float(len(rows))
        method, proxy = group.split("/", 1)
        single = {seed: r for seed, r in groups.get(f"{method}/single", [])}
        if proxy != "single" and single:
            pairs = [(r, single[seed]) for seed, r in rows if seed in single]
            mean["later_peak_seeds"] = float(sum(r["sqrt_kl_at_peak"] > s["sqrt_kl_at_peak"]
                                                 for r, s in pairs))
            mean["higher_end_seeds"] = float(sum(r["gold_end"] > s["gold_end"]
                                                 for r, s in pairs))
        out[group] = mean
    return out


def _smooth(values: list[float], window: int) -> list[float]:
    arr = np.asarray(values, float)
    out = []
    for i in range(len(arr)):
        chunk = arr[max(0, i - window + 1): i + 1]
        chunk = chunk[np.isfinite(chunk)]
        out.append(float(chunk.mean()) if chunk.size else float("nan"))
    return out


def bon_sizes(n_max: int) -> list[int]:
    """1, 2, 4, … up to ``n_max`` (``n_max`` itself included)."""
    sizes = [1 << k for k in range(n_max.bit_length()) if (1 << k) <= n_max]
    return sizes if sizes[-1] == n_max else [*sizes, n_max]


def make_proxies(pairs: Any, vocabulary: Sequence[str], *, members: int, seed: int,
                 lam: float = 1.0) -> dict[str, Any]:
    """The proxies of one seed, as labellers: ``single`` (one linear head) and, with
    ``members`` > 1, one bootstrap ensemble aggregated as ``ensemble-wco`` (min over members)
    and ``ensemble-uwo`` (mean − ``lam``·variance)."""
    from prefkit.align.online.labellers import RewardModelLabeller

    proxies: dict[str, Any] = {"single": RewardModelLabeller(train_proxy(pairs, vocabulary,
                                                                         seed=seed))}
    if members > 1:
        ens = train_proxy(pairs, vocabulary, members=members, seed=seed)
        proxies["ensemble-wco"] = RewardModelLabeller(ens, aggregation="wco")
        proxies["ensemble-uwo"] = RewardModelLabeller(ens, aggregation="uwo", lam=lam)
    return proxies


def bon_curves(model: Any, tokenizer: Any, prompts: Sequence[str], gold: Callable[..., Any],
               proxies: dict[str, Any], *, n_max: int, seed: int, max_new_tokens: int = 24
               ) -> dict[str, list[dict[str, float]]]:
    """Best-of-n (n = 1, 2, 4 … ``n_max``) by each proxy over ``n_max`` base samples per
    prompt: expected proxy and gold reward (unbiased over all n-subsets) against the
    analytic KL = log n − (n−1)/n."""
    from prefkit.align.online.sampling import sample_rollout

    rollout = sample_rollout(model, tokenizer, list(prompts), n=n_max,
                             max_new_tokens=max_new_tokens, seed=seed, logps=False)
    sp = rollout.sample_prompts
    shape = (len(prompts), n_max)
    gold_scores = np.asarray(gold(sp, rollout.texts), float).reshape(shape)
    curves = {}
    for name, lab in proxies.items():
        proxy_scores = lab.rewards(sp, rollout.texts).reshape(shape)
        curves[name] = [
            {"x": float(r["n"]), "kl": r["kl"], "sqrt_kl": math.sqrt(r["kl"]),
             "proxy_reward": r["proxy"], "gold": r["gold"]}
            for r in overoptimization_curve(proxy_scores, gold_scores, ns=bon_sizes(n_max))]
    return curves


def run_overopt(model: Any, tokenizer: Any, out: str | os.PathLike[str], *,
                gold: Callable[..., Any], prompts: Sequence[str] | None = None,
                algos: Sequence[str] = ("grpo",), gold_pairs: int = 64, members: int = 4,
                n_max: int = 512, bon_prompts: int = 16, max_steps: int = 60,
                lr: float = 1e-3, seeds: Sequence[int] = (0,), lam: float = 1.0,
                max_new_tokens: int = 24, progress: bool | None = False, smooth: int = 5,
                online_overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Best-of-N and online over-optimisation curves for a single and an ensemble proxy, for
    each seed in ``seeds`` (a seed draws the proxy's gold-labelled pairs, the best-of-N samples
    and the online run).  Writes ``curves.json``, ``curves.csv`` and ``curves.png`` to ``out``
    and returns what ``curves.json`` holds."""
    import copy

    from prefkit.align.online.config import OnlineConfig
    from prefkit.align.online.trainer import OnlineTrainer
    from prefkit.align.tiny import synthetic_records
    from prefkit.core.progress import progress_bar

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if prompts is None:
        prompts = sorted({r["prompt"] for r in synthetic_records(400, seed=0)})
    prompts = list(prompts)
    vocab = tiny_vocabulary(tokenizer)
    curves: dict[str, list[dict[str, float]]] = {}
    runs = len(seeds) * (1 + len(algos) * (3 if members > 1 else 1))
    with progress_bar(progress, runs, "over-optimisation", "runs") as advance:
        for seed in seeds:
            pairs = gold_labelled_pairs(model, tokenizer, prompts, gold, gold_pairs, seed=seed,
                                        max_new_tokens=max_new_tokens)
            proxies = make_proxies(pairs, vocab, members=members, seed=seed, lam=lam)
            for name, points in bon_curves(model, tokenizer, prompts[:bon_prompts], gold,
                                           proxies, n_max=n_max, seed=seed + 1,
                                           max_new_tokens=max_new_tokens).items():
                curves[curve_key("bon", name, seed)] = points
            advance(1)
            for algo in algos:
                for name, lab in proxies.items():
                    cfg = OnlineConfig(algo=algo, max_steps=max_steps, learning_rate=lr,
                                       seed=seed, prompts_per_step=8, group_size=4,
                                       max_new_tokens=max_new_tokens,
                                       **(online_overrides or {}))
                    # the trainer's reference is a copy of the policy (a reference refresh
                    # must not overwrite ``model``)
                    trainer = OnlineTrainer(copy.deepcopy(model), tokenizer, lab, prompts, cfg,
                                            gold=gold)
                    hist = trainer.train(progress=False)
                    kl = _smooth([h["kl"] for h in hist], smooth)
                    proxy_r = _smooth([h["reward"] for h in hist], smooth)
                    gold_r = _smooth([h["gold"] for h in hist], smooth)
                    curves[curve_key(algo, name, seed)] = [
                        {"x": float(h["step"]), "kl": k, "sqrt_kl": math.sqrt(max(k, 0.0)),
                         "proxy_reward": p, "gold": g}
                        for h, k, p, g in zip(hist, kl, proxy_r, gold_r, strict=True)]
                    advance(1)
    summary = {key: summarise(points) for key, points in curves.items()}
    result = {"curves": curves, "summary": summary,
              "over_seeds": summarise_over_seeds(summary),
              "settings": {"gold_pairs": gold_pairs, "members": members, "lam": lam,
                           "n_max": n_max, "bon_prompts": bon_prompts, "algos": list(algos),
                           "max_steps": max_steps, "lr": lr, "seeds": list(seeds),
                           "smooth": smooth, "max_new_tokens": max_new_tokens},
              "kl_bon_formula": {str(n): float(kl_bon(n)) for n in bon_sizes(n_max)}}
    _write(out, result)
    return result


def _write(out: Path, result: dict[str, Any]) -> None:
    from prefkit.core.atomic import atomic_write_json, atomic_write_text

    atomic_write_json(out / "curves.json", result)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for key, points in result["curves"].items():
        method, proxy, seed = key.rsplit("/", 2)
        for p in points:
            writer.writerow({"method": method, "proxy": proxy, "seed": seed,
                             **{k: p[k] for k in CSV_FIELDS[3:]}})
    atomic_write_text(out / "curves.csv", buf.getvalue())
    plot_curves(result["curves"], out / "curves.png")


def plot_curves(curves: dict[str, list[dict[str, float]]], path: str | os.PathLike[str]) -> None:
    """Gold and proxy reward (change from the start) against √KL: best-of-N on the top row,
    the online methods below; one colour per proxy, one line per seed, the gold peak marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from prefkit.core.atomic import atomic_path

    colours = {"single": "C3", "ensemble-wco": "C0", "ensemble-uwo": "C2"}
    styles = ["-", "--", ":", "-."]
    methods = sorted({k.rsplit("/", 2)[0] for k in curves}, key=lambda m: (m != "bon", m))
    online = [m for m in methods if m != "bon"]
    rows = 2 if online else 1
    fig, axes = plt.subplots(rows, 2, figsize=(11, 4.0 * rows), squeeze=False)
    labelled: set[str] = set()
    for key, points in curves.items():
        method, proxy, _ = key.rsplit("/", 2)
        pts = [p for p in points if np.isfinite(p["gold"]) and np.isfinite(p["proxy_reward"])]
        if not pts:
            continue
        row = 0 if method == "bon" else 1
        style = "o-" if method == "bon" else styles[online.index(method) % len(styles)]
        label = f"{method} / {proxy}"
        kw = {"color": colours.get(proxy, "C7"), "alpha": 0.8, "lw": 1.2,
              "label": None if label in labelled else label}
        labelled.add(label)
        x = [p["sqrt_kl"] for p in pts]
        gold = [p["gold"] - pts[0]["gold"] for p in pts]
        axes[row][0].plot(x, gold, style, ms=3, **kw)
        peak = int(np.argmax(gold))
        axes[row][0].plot([x[peak]], [gold[peak]], "*", color=kw["color"], ms=9)
        axes[row][1].plot(x, [p["proxy_reward"] - pts[0]["proxy_reward"] for p in pts], style,
                          ms=3, color=kw["color"], alpha=0.8, lw=1.2)
    for r in range(rows):
        what = "best-of-N" if r == 0 else "online"
        for ax, reward in zip(axes[r], ("gold", "proxy"), strict=True):
            ax.set_xlabel("√KL(π ‖ π_0)  (nats^½)")
            ax.set_ylabel(f"Δ {reward} reward ({what})")
            ax.grid(alpha=0.3)
            ax.axhline(0, color="k", lw=0.5)
        axes[r][0].legend(fontsize=7)
    fig.suptitle("gold vs proxy reward (★ gold peak; one line per seed)", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(os.fspath(tmp), dpi=110, format="png")
    plt.close(fig)


def load_curves(path: str | os.PathLike[str]) -> dict[str, Any]:
    return dict(json.loads(Path(path).read_text()))
