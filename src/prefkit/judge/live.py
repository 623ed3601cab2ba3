"""A live judge as a model: :class:`LLMJudge` answers the model contract by asking a backend.

``LLMJudge(model=…)`` names its backend by a spec string (:func:`make_backend`):

* ``NAME`` — an OpenAI-compatible chat endpoint (``endpoint=URL``; API key from the environment
  variable ``api_key_env``, never stored);
* ``hf:DIR`` — a local Hugging Face causal LM read from its verdict-token log-probabilities
  (:class:`~prefkit.judge.backends.hf_causal.HFCausalLMBackend`);
* ``rm:DIR`` — a prefkit model saved in ``DIR`` (σ(r_a − r_b) or its ``predict_proba``,
  :class:`~prefkit.judge.backends.reward_model.RewardModelBackend`).

``judge(ds)`` shows every pair in ``orders`` and returns the judgments (one record per pair and
order: raw text in ``rationale``, ``verdict`` as given, ``order``, ``template_hash``, the judge's
name as ``annotator_id``, ``p_a`` for probability judges; unparsed ones in
``metadata["unparsed"]``).  ``predict_proba(ds)`` folds both orders with the declared
``aggregation`` (:func:`prefkit.judge.judgments.aggregate_probabilities`): NaN where the judge has
no verdict, so ``evaluate(judge, ds.filter(judge.has_verdict(ds)))`` scores what it judged.
Nothing is learned: ``fit`` only resolves the template, and an unfitted judge is usable.

``prefkit.save`` keeps the configuration only — backend spec, endpoint URL, model name, the
template's name and text, aggregation, sampling parameters and the *name* of the API-key
variable — never a key; ``prefkit.load`` gives a judge that asks the same backend the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from prefkit.core.estimator import PreferenceEstimator
from prefkit.core.persist import register
from prefkit.data.schema import PreferenceDataset
from prefkit.errors import DataError, ModelFileError
from prefkit.judge.judgments import AGGREGATIONS, aggregate_probabilities, pair_table

ORDER_CHOICES = {"both": ("ab", "ba"), "ab": ("ab",), "ba": ("ba",)}
#: hyper-parameters saved in the model file (all JSON values)
_SAVED = ("model", "endpoint", "template", "aggregation", "orders", "api_key_env",
          "temperature", "max_tokens", "concurrency", "timeout", "max_attempts", "reask",
          "batch_size", "name")


def make_backend(spec: str, *, endpoint: str | None = None, name: str | None = None,
                 api_key_env: str | None = "OPENAI_API_KEY", temperature: float = 0.0,
                 max_tokens: int | None = None, concurrency: int = 16, timeout: float = 60.0,
                 rpm: float | None = None, max_attempts: int = 6, batch_size: int = 8,
                 device: str = "auto") -> Any:
    """The backend a spec names (``NAME`` with ``endpoint``, ``hf:DIR``, ``rm:DIR``)."""
    if not isinstance(spec, str) or not spec:
        raise DataError("a judge model must be a name, hf:DIR or rm:DIR", field="--model")
    if spec.startswith("hf:"):
        from prefkit.judge.backends.hf_causal import HFCausalLMBackend

        return HFCausalLMBackend(spec[3:], batch_size=batch_size, device=device, name=name)
    if spec.startswith("rm:"):
        from prefkit.judge.backends.reward_model import RewardModelBackend

        return RewardModelBackend(spec[3:], name=name)
    if not endpoint:
        raise DataError(f"judge model {spec!r} is asked over HTTP: give --endpoint URL "
                        "(or use hf:DIR / rm:DIR for a local model)", field="--endpoint")
    from prefkit.judge.backends.openai_http import OpenAIChatBackend

    params: dict[str, Any] = {"temperature": temperature}
    if max_tokens is not None:
        params["max_tokens"] = max_tokens
    return OpenAIChatBackend(endpoint, spec, api_key_env=api_key_env, concurrency=concurrency,
                             timeout=timeout, rpm=rpm, max_attempts=max_attempts, params=params,
                             name=name)


def judgments_from_records(records: list[dict[str, Any]], name: str | None = None
                           ) -> PreferenceDataset:
    """A judgments dataset (the layout of :mod:`prefkit.data.readers._judgments`, plus ``p_a``)
    from judgment records; unparsed ones go to ``metadata["unparsed"]``."""
    import pyarrow as pa

    from prefkit.data.readers._judgments import JUDGMENT_COLUMNS, judgments_dataset

    columns: dict[str, list[Any]] = {c: [r.get(c) for r in records] for c in JUDGMENT_COLUMNS}
    columns["verdict"] = [None if v is None else str(v) for v in columns["verdict"]]
    columns["unparsed_label"] = [r.get("parse_error") for r in records]
    p_a = [r.get("p_a") for r in records]
    extra = {"p_a": pa.array(p_a, pa.float64())} if any(p is not None for p in p_a) else None
    if not any(r.get("winner") is not None for r in records):
        raise DataError("the judge gave no verdict at all (every answer unparsed or failed)",
                        source=name)
    return judgments_dataset(columns, extra, source=name or "judgments", lines=None)


@register("judge.LLMJudge")
class LLMJudge(PreferenceEstimator):
    """A judge asked live: an HTTP chat model, a local causal LM, or a prefkit reward model.

    Args:
        model: backend spec — ``NAME`` (with ``endpoint``), ``hf:DIR`` or ``rm:DIR``.
        endpoint: OpenAI-compatible base URL (``NAME`` models only).
        template: built-in template name or a ``.jinja`` file.
        aggregation: ``average`` (mean P(a ≻ b) of both orders), ``inconsistent-as-tie`` or
            ``consistent-only``.
        orders: ``both``, ``ab`` or ``ba``.
        api_key_env: the environment variable holding the API key (the key is never stored).
        temperature, max_tokens, concurrency, timeout, max_attempts: HTTP request settings.
        reask: re-ask an unparsed answer up to this many times.
        batch_size: prompts per forward pass of a local LM.
        cache: optional SQLite reply cache path (not saved with the model).
        name: the judge's name (``annotator_id``); default: the model name / folder name.
    """

    def __init__(self, model: str = "", endpoint: str | None = None,
                 template: str = "pairwise", aggregation: str = "average",
                 orders: str = "both", api_key_env: str | None = "OPENAI_API_KEY",
                 temperature: float = 0.0, max_tokens: int | None = None,
                 concurrency: int = 16, timeout: float = 60.0, max_attempts: int = 6,
                 reask: int = 0, batch_size: int = 8, cache: str | None = None,
                 name: str | None = None) -> None:
        self.model = model
        self.endpoint = endpoint
        self.template = template
        self.aggregation = aggregation
        self.orders = orders
        self.api_key_env = api_key_env
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.reask = reask
        self.batch_size = batch_size
        self.cache = cache
        self.name = name

    # ---------------------------------------------------------------- set-up
    def __sklearn_is_fitted__(self) -> bool:
        return True  # a zero-shot judge: nothing to learn

    def fit(self, dataset: Any = None, **fit_params: Any) -> LLMJudge:
        """Nothing to learn: checks the settings and resolves the template."""
        self._check()
        self._template()
        return self

    def _check(self) -> None:
        if self.aggregation not in AGGREGATIONS:
            raise DataError(f"unknown aggregation {self.aggregation!r} "
                            f"(expected one of {', '.join(AGGREGATIONS)})", field="aggregation")
        if self.orders not in ORDER_CHOICES:
            raise DataError(f"unknown orders {self.orders!r} (expected both, ab or ba)",
                            field="orders")

    def _template(self) -> Any:
        from prefkit.judge.templates import load_template

        if getattr(self, "template_", None) is None:
            self.template_ = load_template(self.template)
        return self.template_

    def backend(self) -> Any:
        """The backend this judge asks (built once)."""
        if getattr(self, "_backend", None) is None:
            self._backend = make_backend(
                self.model, endpoint=self.endpoint, name=self.name,
                api_key_env=self.api_key_env, temperature=self.temperature,
                max_tokens=self.max_tokens, concurrency=self.concurrency, timeout=self.timeout,
                max_attempts=self.max_attempts, batch_size=self.batch_size)
        return self._backend

    @property
    def judge_name(self) -> str:
        return str(self.backend().name)

    # ---------------------------------------------------------------- asking
    def _records(self, dataset: Any, pair_ids: list[str] | None = None) -> list[dict[str, Any]]:
        from prefkit.judge.cache import JudgeCache
        from prefkit.judge.run import PairsToJudge, RunSummary, judge_records

        self._check()
        if isinstance(dataset, PreferenceDataset):
            if dataset.kind != "pairwise":
                raise DataError(f"a judge compares pairs, not {dataset.kind} data",
                                source=dataset.name)
            n = len(dataset)
            columns = {c: (list(dataset.column(c)) if dataset.has(c) else [None] * n)
                       for c in ("pair_id", "prompt", "a", "b", "a_text", "b_text")}
            if pair_ids is not None:
                columns["pair_id"] = pair_ids
            dataset = PairsToJudge(dataset.name or "<data>", columns, None)
        summary = RunSummary()
        cache = JudgeCache(self.cache) if self.cache else None
        try:
            records = judge_records(dataset, self.backend(), template=self._template(),
                                    orders=ORDER_CHOICES[self.orders], cache=cache,
                                    reask=self.reask, summary=summary)
        finally:
            if cache is not None:
                cache.close()
        self.last_summary_ = summary
        if summary.errors:
            from prefkit.judge.backends.openai_http import JudgeBackendError

            raise JudgeBackendError(f"{summary.errors} judge requests failed "
                                    f"(e.g. {summary.error_examples[0]})")
        return records

    def judge(self, dataset: Any) -> PreferenceDataset:
        """The judgments of every pair of ``dataset`` in ``orders`` (see the module notes)."""
        out = judgments_from_records(self._records(dataset), getattr(dataset, "name", None))
        out.metadata["aggregation"] = self.aggregation
        return out

    def predict_proba(self, dataset: PreferenceDataset) -> np.ndarray:
        """P(a ≻ b) per record from both orders by the declared aggregation (NaN: none)."""
        n = len(dataset)
        records = self._records(dataset, pair_ids=[str(i) for i in range(n)])
        p = np.full(n, np.nan)
        if not any(r.get("winner") is not None for r in records):
            return p
        table = pair_table(judgments_from_records(records))
        assert table.prob is not None
        folded = aggregate_probabilities(table.outcome, table.prob, self.aggregation)
        p[np.array([int(i) for i in table.pair_id], dtype=np.int64)] = folded
        return p

    def has_verdict(self, dataset: PreferenceDataset) -> np.ndarray:
        """Mask of the records the judge has a verdict for (``predict_proba`` not NaN)."""
        return ~np.isnan(self.predict_proba(dataset))

    # ---------------------------------------------------------------- persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        template = self._template()
        config = {key: getattr(self, key) for key in _SAVED}
        config["template_text"] = template.text
        config["template_name"] = template.name
        config["template_protocol"] = template.protocol
        config["template_hash"] = template.hash
        return config, {}

    @classmethod
    def _from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray],
                    directory: Any, **kw: Any) -> LLMJudge:
        from prefkit.judge.templates import Template

        try:
            judge = cls(**{key: config[key] for key in _SAVED if key in config})
            template = Template(str(config["template_name"]), str(config["template_text"]),
                                str(config.get("template_protocol") or "pairwise-abc"))
        except (KeyError, TypeError) as err:
            raise ModelFileError(f"{directory}: not a saved LLM judge ({err})") from None
        if config.get("template_hash") not in (None, template.hash):
            raise ModelFileError(f"{directory}: the template text does not match its hash")
        judge._check()
        judge.template_ = template
        return judge
