"""``--algo-param`` settings are declared per method and checked before anything is written:
each kind of mistake is one ``error:`` line (exit 2) and the run folder stays empty; a valid
setting reaches the step loss (GPO's quadratic in its centring c); plug-ins registered without
declarations accept any key, with declarations they are checked like the built-in methods."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from prefkit.align.online import algorithms
from prefkit.align.online.config import OnlineConfig
from prefkit.align.online.params import AlgoParamError, Param, param
from prefkit.align.tiny import synthetic_records
from prefkit.errors import DataError

PROMPTS = sorted({r["prompt"] for r in synthetic_records(60)})[:8]

BAD = [  # (method, --algo-param values, what the one line says after "--algo-param: METHOD: ")
    ("nash-md", ["mixtrue=0.5"], "unknown key 'mixtrue' (accepted: mixture)"),
    ("pf-ppo", ["k=two"], "k='two': expected an integer"),
    ("pf-ppo", ["k=1.5"], "k=1.5: expected an integer"),
    ("brain", ["temperature=-1"], "temperature=-1: must be > 0"),
    ("nash-md", ["mixture=1.5"], "mixture=1.5: must be <= 1"),
    ("gpo", ["tau=NaN"], "tau=nan: expected a finite number"),
    ("spo", ["hard=maybe"], "hard='maybe': expected true or false"),
    ("p3o", ["clip=both"], "clip='both': expected one of separate, joint"),
    ("grpo", ["mixture=0.5"], "takes no --algo-param settings (got 'mixture')"),
    ("online-dpo", ["beta=0.1"], "takes no --algo-param settings (got 'beta')"),
    ("hypo", ["pairs=no-such-pairs.jsonl"], "pairs='no-such-pairs.jsonl': no such file"),
    ("pf-ppo", ["k=3"], "strategy=best-random with k=3 keeps 6 samples of each group of "
     "group_size 4"),
    ("constrained", ["cost=json:loads"], "cost_limit=… is needed for cost json:loads"),
]


@pytest.mark.parametrize(("algo", "settings", "says"), BAD,
                         ids=[f"{a}-{s[0]}" for a, s, _ in BAD])
def test_bad_setting_is_one_line_and_writes_nothing(tmp_path: Path, algo: str,
                                                    settings: list[str], says: str) -> None:
    from prefkit.cli.align import align_app

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(f'{{"prompt": "{p}"}}\n' for p in PROMPTS))
    run = tmp_path / "run"
    run.mkdir()
    args = ["online", "tiny", "--labeller", "gold:politeness", "--prompts", str(prompts),
            "--out", str(run), "--algo", algo, "--group-size", "4", "--max-steps", "1"]
    for item in settings:
        args += ["--algo-param", item]
    res = CliRunner().invoke(align_app, args)
    assert res.exit_code == 2, res.output
    assert res.output.splitlines() == [f"error: --algo-param: {algo}: {says}"]
    assert not (run / "online_config.json").exists()
    assert list(run.iterdir()) == []


def test_declared_settings_are_converted_and_defaulted() -> None:
    cfg = OnlineConfig(algo="constrained", algo_params={"cost": "length, words",
                                                        "cost_limit": "3,4", "lambda_lr": "0.1"})
    cfg.check()
    assert param(cfg, "cost") == ("length", "words")
    assert param(cfg, "cost_limit") == (3.0, 4.0)
    assert param(cfg, "lambda_lr") == 0.1 and param(cfg, "lambda_init") == 0.0
    assert param(OnlineConfig(algo="spo", algo_params={"hard": "true"}), "hard") is True
    assert param(OnlineConfig(algo="egpo"), "half_lr") is None
    with pytest.raises(KeyError, match="declares no setting 'nope'"):
        param(cfg, "nope")
    # the error is a DataError and a ValueError: the Python API raises it from check() too
    with pytest.raises(ValueError, match="lambda_lr=-1: must be >= 0"):
        OnlineConfig(algo="constrained", algo_params={"lambda_lr": -1}).check()
    # every declared default passes its own declaration
    for name, declared in algorithms.PARAMS.items():
        for key, spec in declared.items():
            if spec.default is not None:
                assert spec.convert(name, key, spec.default) == spec.default


def test_a_valid_setting_changes_the_step_loss_as_its_formula_says(tiny) -> None:
    """GPO: L(c) = mean_i (log π/π_t − η(ŝ_i − c))² is quadratic in c with leading coefficient
    η², so on one fixed batch L(c₁) + L(c₂) − 2 L((c₁ + c₂)/2) = η²(c₁ − c₂)²/2 whatever the
    policy, the reference or the scores."""
    from prefkit.align.online.gold import politeness
    from prefkit.align.online.gpo import step_loss
    from prefkit.align.online.sampling import rollout_token_logps
    from prefkit.align.online.trainer import OnlineTrainer

    model, tok = tiny
    eta = 0.7
    cfg = OnlineConfig(algo="gpo", eta=eta, group_size=4, prompts_per_step=2, max_new_tokens=8,
                       max_steps=1, seed=0)
    trainer = OnlineTrainer(model, tok, politeness, PROMPTS, cfg)
    trainer.inner._ensure_engine()
    rollout = trainer._sample(trainer.step_prompts(0), cfg.samples_per_prompt,
                              trainer.step_seed(0))
    ref = rollout_token_logps(trainer.reference, rollout)

    def loss(**settings) -> float:
        cfg.algo_params = settings
        cfg.check()
        return float(step_loss(trainer, rollout, ref, {}).detach())

    c1, c2 = 0.0, 2.0
    low, high, middle = loss(baseline=c1), loss(baseline=c2), loss(baseline=(c1 + c2) / 2)
    assert loss() == pytest.approx(low)  # the declared default c = 0
    assert low != pytest.approx(high)
    assert low + high - 2 * middle == pytest.approx(eta ** 2 * (c1 - c2) ** 2 / 2, rel=1e-4)
    # a string from the Python API is converted by the same declaration
    assert loss(baseline="2") == pytest.approx(high)


def plugin_step(trainer, rollout, ref_token_logps, record):
    """A plug-in step loss reading its own setting through the one reader."""
    from prefkit.align.online.game_utils import policy_sequence_logps

    scale = param(trainer, "scale", Param("float", 1.0, gt=0.0))
    record["scale"] = scale
    logps, _ = policy_sequence_logps(trainer, rollout)
    return -scale * logps.mean()


def test_plugins_with_and_without_declarations(tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefkit.align.online.trainer import OnlineTrainer

    monkeypatch.setattr(algorithms, "EXTRA", dict(algorithms.EXTRA))
    monkeypatch.setattr(algorithms, "PARAMS", dict(algorithms.PARAMS))
    target = f"{__name__}:plugin_step"
    algorithms.register_algorithm("free-plugin", target)
    algorithms.register_algorithm("strict-plugin", target,
                                  params={"scale": Param("float", 1.0, gt=0.0)})
    # undeclared: any key passes the check, the step reads (and checks) what it uses
    cfg = OnlineConfig(algo="free-plugin", algo_params={"scale": 2.5, "anything": [1, "x"]},
                       group_size=2, prompts_per_step=2, max_new_tokens=6, max_steps=1)
    cfg.check()
    model, tok = tiny
    history = OnlineTrainer(model, tok, lambda p, c: [0.0] * len(c), PROMPTS, cfg
                            ).train(progress=False)
    assert history[0]["scale"] == 2.5
    cfg.algo_params = {"scale": -1}
    cfg.check()  # not declared: only the step can tell
    with pytest.raises(AlgoParamError, match="free-plugin: scale=-1: must be > 0"):
        param(cfg, "scale", Param("float", 1.0, gt=0.0))
    # declared: checked before the run like a built-in method
    for settings, says in (({"scale": -1}, "scale=-1: must be > 0"),
                           ({"scael": 2}, r"unknown key 'scael' \(accepted: scale\)")):
        with pytest.raises(DataError, match=f"--algo-param: strict-plugin: {says}"):
            OnlineConfig(algo="strict-plugin", algo_params=settings).check()
    assert param(OnlineConfig(algo="strict-plugin", algo_params={"scale": 3}), "scale") == 3.0
