"""Parity of prefkit's RLOO advantages and GRPO loss with TRL 1.16's own code on identical batches.

TRL computes both inside trainer methods; they are called unbound on a ``SimpleNamespace``
stand-in whose generation, reward and log-prob hooks return our tensors, so TRL's arithmetic
runs on exactly the inputs prefkit's functions get (as ``test_trl_parity.py`` does for DPO).
"""

from __future__ import annotations

from collections import defaultdict, deque
from types import SimpleNamespace

import pytest
import torch

pytest.importorskip("trl")

from prefkit.align.online.grpo import grpo_advantages, grpo_loss
from prefkit.align.online.kl import kl_per_token
from prefkit.align.online.rloo import rloo_advantages, rloo_loss

B, K, T = 12, 4, 7  # samples, group size, completion width


def _batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, T + 1, (B,), generator=g)
    mask = (torch.arange(T)[None] < lengths[:, None]).long()
    policy = -torch.rand(B, T, generator=g) * 3 * mask
    reference = (policy + 0.3 * torch.randn(B, T, generator=g)) * mask
    rewards = torch.randn(B, generator=g)
    return lengths, mask, policy, reference, rewards


class _Accel:
    device = torch.device("cpu")
    process_index = 0
    num_processes = 1

    @staticmethod
    def reduce(x, reduction="sum"):
        return x

    @staticmethod
    def gather(x):
        return x

    gather_for_metrics = gather


def _trl_rloo_advantages(beta: float, normalize: bool, seed: int = 0) -> torch.Tensor:
    from trl import RLOOTrainer

    lengths, mask, policy, reference, rewards = _batch(seed)
    model = SimpleNamespace(training=True, is_gradient_checkpointing=False)
    ref_model = SimpleNamespace(training=False)

    def per_token(this, m, *args, **kwargs):
        return (policy if m is model else reference), None, None

    ns = SimpleNamespace(
        accelerator=_Accel(), model=model, ref_model=ref_model, beta=beta,
        num_generations=K, normalize_advantages=normalize, reward_clip_range=None,
        reward_weights=torch.ones(1), reward_func_names=["r"], mask_truncated_completions=False,
        pad_to_multiple_of=None, _tokenizer=SimpleNamespace(pad_token_id=0),
        args=SimpleNamespace(per_device_train_batch_size=B, gradient_checkpointing_kwargs=None),
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
        _logs={"prompt": deque(), "completion": deque(), "rewards": defaultdict(deque),
               "advantages": deque(), "extra": defaultdict(deque)},
        _pending_extra_logs={}, _pending_metrics={}, log_multimodal=False,
    )
    ns._generate = lambda prompts: ([[1, 2]] * B, [[3] * int(n) for n in lengths],
                                    ["c"] * B)
    ns._get_per_token_logps_and_entropies = per_token.__get__(ns)
    ns._calculate_rewards = lambda *a, **k: rewards[:, None].clone()
    out = RLOOTrainer._generate_and_score_completions(ns, [{"prompt": "p"}] * B)
    assert torch.equal(out["completion_mask"], mask)
    return out["advantages"]


@pytest.mark.parametrize(("beta", "normalize"), [(0.0, False), (0.1, False), (0.05, True)])
def test_rloo_advantages_equal_trl(beta: float, normalize: bool) -> None:
    _, mask, policy, reference, rewards = _batch()
    r = rewards.clone()
    if beta:  # RLOO's KL in the reward: k1 summed over the completion
        r = r - beta * (kl_per_token(policy, reference, "k1") * mask).sum(-1)
    ours = rloo_advantages(r, K, normalize=normalize)
    theirs = _trl_rloo_advantages(beta, normalize)
    assert torch.allclose(ours, theirs, atol=1e-6)
    # the baseline really is leave-one-out: advantages of a group sum to K/(K-1) × centred sum = 0
    if not normalize:
        assert torch.allclose(ours.view(-1, K).sum(1), torch.zeros(B // K), atol=1e-5)


def test_rloo_loss_equals_trl() -> None:
    from trl import RLOOTrainer

    _, mask, policy, _, rewards = _batch(1)
    old = (policy + 0.2 * torch.randn(B, T, generator=torch.Generator().manual_seed(3))) * mask
    adv = rloo_advantages(rewards, K)
    ns = SimpleNamespace(
        model=SimpleNamespace(training=True), accelerator=_Accel(), aux_loss_enabled=False,
        epsilon_low=0.2, epsilon_high=0.28,
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)})
    ns._get_per_token_logps_and_entropies = lambda *a, **k: (policy, torch.zeros_like(policy),
                                                             None)
    inputs = {"prompt_ids": torch.ones(B, 2, dtype=torch.long),
              "prompt_mask": torch.ones(B, 2, dtype=torch.long),
              "completion_ids": torch.ones(B, T, dtype=torch.long), "completion_mask": mask,
              "old_logps": (old * mask).sum(1), "advantages": adv}
    theirs = RLOOTrainer._compute_loss(ns, None, inputs)
    ours = rloo_loss((policy * mask).sum(1), (old * mask).sum(1), adv, epsilon_low=0.2,
                     epsilon_high=0.28)
    assert torch.allclose(ours, theirs, atol=1e-6)


@pytest.mark.parametrize("beta", [0.0, 0.04])
def test_grpo_loss_equals_trl(beta: float) -> None:
    from trl import GRPOTrainer

    _, mask, policy, reference, rewards = _batch(2)
    g = torch.Generator().manual_seed(5)
    old = (policy + 0.25 * torch.randn(B, T, generator=g)) * mask  # ratios get clipped
    adv = grpo_advantages(rewards, K)
    ns = SimpleNamespace(
        model=SimpleNamespace(training=True), accelerator=_Accel(), aux_loss_enabled=False,
        top_entropy_quantile=1.0, off_policy_mask_threshold=None,
        importance_sampling_level="token", beta=beta, loss_type="grpo", epsilon_low=0.2,
        epsilon_high=0.2, use_vllm=False, vllm_importance_sampling_correction=False,
        current_gradient_accumulation_steps=1, _entropy_bonus_enabled=False,
        use_adaptive_entropy=False, entropy_coef=0.0,
        args=SimpleNamespace(use_bias_correction_kl=False, delta=None),
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)})
    ns._get_per_token_logps_and_entropies = lambda *a, **k: (policy, torch.zeros_like(policy),
                                                             None)
    inputs = {"prompt_ids": torch.ones(B, 2, dtype=torch.long),
              "prompt_mask": torch.ones(B, 2, dtype=torch.long),
              "completion_ids": torch.ones(B, T, dtype=torch.long), "completion_mask": mask,
              "old_per_token_logps": old, "advantages": adv, "ref_per_token_logps": reference}
    theirs = GRPOTrainer._compute_loss(ns, None, inputs)
    ours = grpo_loss(policy, old, adv, mask, ref_token_logps=reference, beta=beta,
                     kl_estimator="k3")
    assert torch.allclose(ours, theirs, atol=1e-6)
    # TRL's group advantages: (r − mean_g) / (std_g + 1e-4), unbiased std
    grouped = rewards.view(-1, K)
    expected = ((grouped - grouped.mean(1, keepdim=True))
                / (grouped.std(1, keepdim=True) + 1e-4)).reshape(-1)
    assert torch.allclose(adv, expected, atol=1e-6)
