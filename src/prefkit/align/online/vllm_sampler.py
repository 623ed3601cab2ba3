"""Optional vLLM sampling backend for the online loop (a CUDA GPU and ``pip install
'prefkit[vllm]'``).

Generation is most of an online step's time; vLLM (Kwon et al. 2023, "Efficient Memory Management
for Large Language Model Serving with PagedAttention") generates many completions per prompt far
faster than ``transformers.generate``.  :class:`VLLMSampler` keeps a vLLM engine on the same GPU
as the policy ("colocated", as TRL's ``vllm_mode="colocate"``):

1. before each rollout the policy's current weights are loaded into the engine
   (:meth:`VLLMSampler.sync`);
2. the engine samples ``n`` completions per prompt from the *token ids* of the prompts (the chat
   template is applied once, by prefkit), seeded per request (``SamplingParams.seed``);
3. :func:`prefkit.align.online.sampling.sample_rollout` turns the completion token ids into the
   same :class:`~prefkit.align.online.sampling.Rollout` as the ``transformers`` path; the
   per-token log-probabilities are then recomputed by the policy itself at temperature 1, so the
   losses never see vLLM's numbers.

:func:`attach_sampler` hands a sampler to a policy; every ``sample_rollout`` of that policy then
uses it (the reference policy keeps sampling with ``transformers``).  Without vLLM or without a
GPU, :func:`require_vllm` raises one line naming the extra.

Not run in prefkit's test suite (no GPU there): the import guard and the conversion of vLLM's
outputs (:func:`completion_rows`) are tested; the engine calls follow vLLM's offline ``LLM`` API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prefkit.errors import DataError

EXTRA = "vllm"
INSTALL = f"pip install 'prefkit[{EXTRA}]'"
#: attribute of a policy model that holds its sampler (see :func:`attach_sampler`)
SAMPLER_ATTRIBUTE = "prefkit_sampler"


def require_vllm() -> Any:
    """The ``vllm`` module, or DataError (one line) when it or a CUDA GPU is missing."""
    try:
        import vllm
    except ImportError:
        raise DataError(f"--sampler vllm needs vLLM and a CUDA GPU: {INSTALL}") from None
    import torch

    if not torch.cuda.is_available():
        raise DataError("--sampler vllm needs a CUDA GPU (torch sees none); use --sampler hf")
    return vllm


def attach_sampler(model: Any, sampler: Any | None) -> Any:
    """Make ``sampler`` (anything with ``sync(model)`` and ``generate(...)``) the sampler of
    ``model``; ``None`` goes back to ``transformers.generate``.  Returns ``model``."""
    object.__setattr__(model, SAMPLER_ATTRIBUTE, sampler)
    return model


def sampler_of(model: Any) -> Any | None:
    return getattr(model, SAMPLER_ATTRIBUTE, None)


def completion_rows(outputs: Sequence[Any], eos_id: int | None) -> tuple[list[list[int]],
                                                                         list[bool]]:
    """vLLM ``RequestOutput`` s (one per prompt, ``n`` completions each, in order) → the
    completion token ids of every sample, each ending at its first EOS (EOS kept; added when
    the engine stopped on EOS without returning it), and whether it was cut by the length
    limit (``finish_reason == "length"``) instead."""
    rows, truncated = [], []
    for request in outputs:
        for completion in request.outputs:
            ids = list(completion.token_ids)
            if eos_id is not None and eos_id in ids:
                rows.append(ids[: ids.index(eos_id) + 1])
                truncated.append(False)
                continue
            stopped = getattr(completion, "finish_reason", None) == "stop"
            if stopped and eos_id is not None:
                ids.append(eos_id)
            rows.append(ids)
            truncated.append(not stopped)
    return rows, truncated


class VLLMSampler:
    """A colocated vLLM engine for one policy (see the module docstring).

    Args:
        model_dir: the policy's saved Hugging Face directory (config, tokenizer, weights).
        gpu_memory_utilization: share of GPU memory vLLM may take (the policy, its reference
            and the optimiser need the rest).
        dtype, seed: as vLLM's ``LLM``.
    """

    def __init__(self, model_dir: str, *, gpu_memory_utilization: float = 0.3,
                 dtype: str = "auto", seed: int = 0, max_model_len: int | None = None) -> None:
        vllm = require_vllm()
        self._vllm = vllm
        kwargs: dict[str, Any] = {"model": str(model_dir), "tokenizer": str(model_dir),
                                  "gpu_memory_utilization": gpu_memory_utilization,
                                  "dtype": dtype, "seed": seed}
        if max_model_len is not None:
            kwargs["max_model_len"] = max_model_len
        self.llm = vllm.LLM(**kwargs)

    def _engine_model(self) -> Any:
        engine = self.llm.llm_engine
        return engine.model_executor.driver_worker.model_runner.model

    def sync(self, model: Any) -> None:
        """Load ``model``'s current weights into the engine (and drop its prefix cache)."""
        weights = ((name, p.detach()) for name, p in model.state_dict().items())
        if hasattr(self.llm, "collective_rpc"):  # vLLM ≥ 0.8 (V1 engine)
            state = list(weights)
            self.llm.collective_rpc(
                lambda worker: worker.model_runner.model.load_weights(state))
        else:
            self._engine_model().load_weights(weights)
        if hasattr(self.llm, "reset_prefix_cache"):
            self.llm.reset_prefix_cache()

    def generate(self, prompt_rows: Sequence[Sequence[int]], *, n: int, max_new_tokens: int,
                 temperature: float, top_k: int, top_p: float, seed: int,
                 eos_id: int | None) -> tuple[list[list[int]], list[bool]]:
        """``n`` completions per prompt (token ids) and their truncation flags."""
        params = [self._vllm.SamplingParams(n=n, temperature=temperature, top_k=top_k or -1,
                                            top_p=top_p, max_tokens=max_new_tokens,
                                            seed=seed + i)
                  for i in range(len(prompt_rows))]  # one seed per prompt: (seed, step, i)
        prompts = [{"prompt_token_ids": list(map(int, row))} for row in prompt_rows]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        return completion_rows(outputs, eos_id)
