"""OpenRLHF's remote reward protocol, read the way its clients mean it.

OpenRLHF's trainer posts ``{"query": [...], "prompts": [...], "labels": [...]}`` to
``--remote_rm_url`` (``openrlhf/utils/remote_rm_utils.py``): ``query[i]`` is the whole sequence
— the chat-templated prompt followed by the generated response — ``prompts[i]`` the templated
prompt alone, ``labels[i]`` a reference answer (unused by a reward model).  It reads
``rewards`` (one float per query; also ``scores`` and ``extra_logs``, per-sample lists that are
concatenated across requests and logged).  Its own ``serve_rm.py`` scores the whole query and
answers ``scores = rewards``; prefkit does the same.

Splitting: when ``query[i]`` starts with ``prompts[i]``, the response is the rest; otherwise
(a prompt re-templated differently, or no prompts) the whole query is the response and
``prompts[i]`` (or nothing) is the prompt.
"""

from __future__ import annotations


def split_queries(queries: list[str], prompts: list[str] | None) -> tuple[list[str | None],
                                                                         list[str]]:
    """(prompts, responses) of OpenRLHF queries (see the module docstring)."""
    if prompts is None:
        return [None] * len(queries), list(queries)
    out_prompts: list[str | None] = []
    responses: list[str] = []
    for query, prompt in zip(queries, prompts, strict=True):
        if prompt and query.startswith(prompt):
            out_prompts.append(prompt)
            responses.append(query[len(prompt):])
        else:
            out_prompts.append(prompt or None)
            responses.append(query)
    return out_prompts, responses
