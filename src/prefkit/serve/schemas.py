"""Request and response bodies (pydantic; they make the OpenAPI page at ``/docs``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScoreRequest(_Strict):
    """Rewards of ``responses`` to one ``prompt`` (text models), or scores of ``items``."""

    model: str | None = Field(None, description="Model name (optional when one model is served).")
    prompt: str | None = Field(None, description="The prompt the responses answer.")
    prompts: list[str | None] | None = Field(
        None, description="One prompt per response (instead of 'prompt').")
    responses: list[str] | None = Field(None, description="Responses to score (text models).")
    items: list[str] | None = Field(None, description="Item names to score (choice models).")
    user_id: str | None = Field(None, description="The person (pluralistic models).")

    @model_validator(mode="after")
    def _one_of(self) -> ScoreRequest:
        if (self.responses is None) == (self.items is None):
            raise ValueError("give exactly one of 'responses' and 'items'")
        if self.prompts is not None:
            if self.prompt is not None:
                raise ValueError("give 'prompt' or 'prompts', not both")
            if self.responses is None or len(self.prompts) != len(self.responses):
                raise ValueError("'prompts' needs one entry per response")
        return self


class ScoreResponse(BaseModel):
    model: str
    rewards: list[float] = Field(description="One reward (or item score) per input, in order.")


class PairIn(_Strict):
    a: str | None = Field(None, description="First candidate: an item name or a response text "
                                            "(required but for recorded judges).")
    b: str | None = Field(None, description="Second candidate.")
    prompt: str | None = None
    user_id: str | None = Field(None, description="Overrides the request's user_id.")
    pair_id: str | None = Field(None, description="The pair's id: required by a judge with "
                                                  "recorded verdicts, passed on to live judges.")


class CompareRequest(_Strict):
    """P(a ≻ b) for each pair (and P(tie) where the model has ties)."""

    model: str | None = None
    pairs: list[PairIn]
    user_id: str | None = Field(None, description="Default person for every pair.")


class CompareResponse(BaseModel):
    model: str
    p_a: list[float | None] = Field(
        description="P(a ≻ b) per pair (strict win for ties models); null where a judge has no "
                    "verdict.")
    p_tie: list[float] | None = Field(None, description="P(tie) per pair; null without ties.")
    user_known: list[bool] | None = Field(
        None, description="Models with users: per pair, whether its user_id is a person the "
                          "model knows (false: unknown or no user — the population answer); "
                          "null for models without users.")
    unknown_users: list[str] = Field(
        default_factory=list,
        description="Users the model does not know (they got the population answer).")


class GetRewardRequest(BaseModel):
    """OpenRLHF's remote reward request: ``query[i]`` = ``prompts[i]`` + response ``i``."""

    model_config = ConfigDict(extra="allow")  # forks add fields (datasources, …): ignored

    query: list[str]
    prompts: list[str] | None = None
    labels: list[Any] | None = None


class GetRewardResponse(BaseModel):
    rewards: list[float]
    scores: list[float]
    extra_logs: dict[str, list[float]]


class ModelCard(BaseModel):
    id: str
    object: str = "model"
    owned_by: str = "prefkit"
    model_config = ConfigDict(extra="allow", protected_namespaces=())


class ModelList(BaseModel):
    object: str = "list"
    data: list[ModelCard]


class Health(BaseModel):
    status: str
    models: list[str]


class ErrorBody(BaseModel):
    error: str
    field: str | None = None
    id: str | None = None
