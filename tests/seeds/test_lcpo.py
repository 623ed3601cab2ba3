"""LCPO / RE-PO (seed row 58): ε = 0 is DPO, the E-step posterior by hand, and EM on a linear
Bradley–Terry model recovers the flip rate of simulated noisy labels."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from prefkit.align.losses import dpo_loss, get_loss, lcpo_loss  # noqa: E402
from prefkit.align.losses.lcpo import posterior_correct, update_noise_rate  # noqa: E402


def test_lcpo_formula_and_dpo_limit() -> None:
    g = torch.Generator().manual_seed(0)
    pc, pr, rc, rr = (-torch.rand(7, generator=g, dtype=torch.float64) * 20 for _ in range(4))
    torch.testing.assert_close(lcpo_loss(pc, pr, rc, rr, beta=0.3, epsilon=0.0).losses,
                               dpo_loss(pc, pr, rc, rr, beta=0.3).losses, atol=1e-12, rtol=0)
    z = 0.3 * ((pc - rc) - (pr - rr))
    p = torch.sigmoid(z)
    w = 0.8 * p / (0.8 * p + 0.2 * (1 - p))
    torch.testing.assert_close(posterior_correct(p, 0.2), w, atol=1e-12, rtol=0)
    expected = -w * F.logsigmoid(z) - (1 - w) * F.logsigmoid(-z)
    torch.testing.assert_close(lcpo_loss(pc, pr, rc, rr, beta=0.3, epsilon=0.2).losses, expected,
                               atol=1e-12, rtol=0)
    assert update_noise_rate(p, 0.2) == pytest.approx(float((1 - w).mean()))
    assert get_loss("RE-PO").name == "lcpo"
    with pytest.raises(ValueError, match="epsilon"):
        posterior_correct(p, 0.5)


def test_em_recovers_the_flip_rate() -> None:
    rng = np.random.default_rng(0)
    n, dim, flip = 2000, 5, 0.25
    x = torch.as_tensor(rng.normal(size=(n, dim)))
    w_true = torch.as_tensor(rng.normal(size=dim)) * 8.0  # nearly noise-free clean labels
    clean = torch.as_tensor(rng.random(n)) < torch.sigmoid(x @ w_true)
    noisy = clean ^ torch.as_tensor(rng.random(n) < flip)
    sign = torch.where(noisy, 1.0, -1.0).double()
    theta = torch.zeros(dim, dtype=torch.float64, requires_grad=True)
    eps = 0.1
    for _ in range(8):  # EM rounds: M-step by L-BFGS, then the ε update
        opt = torch.optim.LBFGS([theta], max_iter=20, line_search_fn="strong_wolfe")

        def closure(e=eps, o=opt):
            o.zero_grad()
            r = sign * (x @ theta)  # "chosen minus rejected" reward of each observed label
            loss = lcpo_loss(r, torch.zeros_like(r), None, None, beta=1.0,
                             epsilon=e).losses.mean()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            eps = update_noise_rate(torch.sigmoid(sign * (x @ theta)), eps)
    # the clean labels are almost deterministic, so the flips are the noise EM must find
    assert abs(eps - flip) < 0.05, eps
    cos = float(theta.detach() @ w_true / (theta.detach().norm() * w_true.norm()))
    assert cos > 0.98
