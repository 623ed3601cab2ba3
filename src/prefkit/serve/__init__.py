"""Layer 10 — ``prefkit serve``: every saved model behind one HTTP service.

A FastAPI app (:func:`create_app`) holds several models opened with :func:`prefkit.load`, each
addressed by name, and answers:

- ``POST /v1/score`` — one prompt + responses → rewards (reward models), or items → scores
  (choice models);
- ``POST /v1/compare`` — pairs → P(a ≻ b) (and P(tie) where the model has ties); pluralistic
  models take a ``user_id`` (an unknown user gets the population answer, as the model does, and
  ``user_known`` says so per pair); judges answer by ``pair_id`` (``null``: no verdict);
- ``POST /get_reward`` — OpenRLHF's remote reward model protocol
  (``{"query", "prompts", "labels"}`` → ``{"rewards", "scores", "extra_logs"}``);
- ``POST /v1/chat/completions`` — OpenAI chat completions (with ``logprobs``) from a local
  Hugging Face causal-LM folder or an align run's policy (:mod:`prefkit.serve.chat`);
- ``GET /v1/models``, ``GET /health``, ``GET /metrics`` (Prometheus text).

Requests to one model are micro-batched across clients (:mod:`prefkit.serve.batcher`): up to
``max_batch`` items or ``max_wait_ms``, one model call, results fanned back; chat requests
likewise, left-padded into one ``generate`` call, each with a deadline.  Bearer tokens,
payload limits (413) and one-line JSON errors live in :mod:`prefkit.serve.security` and
:mod:`prefkit.serve.app`.  Run it with ``prefkit serve MODEL_DIR…`` (``docs/serve.md``);
:class:`Client` uses a served model like a local one (``predict_proba``, ``reward_texts``,
``item_scores``).

Needs the ``serve`` extra (``pip install 'prefkit[serve]'``: fastapi, uvicorn, prometheus-client).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Client", "RemoteError", "ServeSettings", "ServedModel", "create_app", "load_models"]


def __getattr__(name: str) -> Any:
    """Import the FastAPI parts only when asked (``prefkit.serve.settings`` stays light)."""
    if name == "create_app":
        from prefkit.serve.app import create_app

        return create_app
    if name in ("ServedModel", "load_models"):
        from prefkit.serve import served

        return getattr(served, name)
    if name in ("Client", "RemoteError"):
        from prefkit.serve import client

        return getattr(client, name)
    if name == "ServeSettings":
        from prefkit.serve.settings import ServeSettings

        return ServeSettings
    raise AttributeError(f"module 'prefkit.serve' has no attribute {name!r}")
