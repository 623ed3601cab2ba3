"""The fixed table of loadable model classes: tag → ``"module:ClassName"``.

:func:`prefkit.load` imports only modules named *here*, never a module or class named in a file:
a ``config.json`` names a tag, and a tag this table does not know is refused before anything is
imported.  A new model class adds one line here and the ``@register(tag)`` decorator on the
class (see :mod:`prefkit.core.persist`).
"""

from __future__ import annotations

KNOWN_CLASSES: dict[str, str] = {
    # choice — item-level models
    "choice.BradleyTerry": "prefkit.choice.bradley_terry:BradleyTerry",
    "choice.Thurstone": "prefkit.choice.thurstone:Thurstone",
    "choice.ThurstoneVariances": "prefkit.choice.thurstone_variances:ThurstoneVariances",
    "choice.Davidson": "prefkit.choice.davidson:Davidson",
    "choice.RaoKupper": "prefkit.choice.rao_kupper:RaoKupper",
    "choice.PlackettLuce": "prefkit.choice.plackett_luce:PlackettLuce",
    "choice.Elo": "prefkit.choice.elo:Elo",
    # reward — feature-level models
    "reward.RewardModel": "prefkit.reward.model:RewardModel",
    "reward.TransformerRewardModel": "prefkit.reward.transformer:TransformerRewardModel",
    "reward.RegressionRewardModel": "prefkit.reward.regression:RegressionRewardModel",
    "reward.MORERewardModel": "prefkit.reward.more:MORERewardModel",
    "reward.CRMRewardModel": "prefkit.reward.crm:CRMRewardModel",
    # plural — user-aware models
    "plural.PlackettLuceMixture": "prefkit.plural.mixture:PlackettLuceMixture",
    "plural.BradleyTerryMixture": "prefkit.plural.mixture:BradleyTerryMixture",
    "plural.CovariateBradleyTerry": "prefkit.plural.covariates:CovariateBradleyTerry",
    "plural.PALA": "prefkit.plural.pal_a:PALA",
    "plural.PALB": "prefkit.plural.pal_b:PALB",
    "plural.VPL": "prefkit.plural.vpl:VPL",
    "plural.MiCRo": "prefkit.plural.micro:MiCRo",
    "plural.MaxMinRLHF": "prefkit.plural.maxmin:MaxMinRLHF",
    # align — policies
    "align.DPOPolicy": "prefkit.align.policy:DPOPolicy",
    "judge.RecordedJudge": "prefkit.judge.recorded:RecordedJudge",
    "judge.LLMJudge": "prefkit.judge.live:LLMJudge",
    "judge.Jury": "prefkit.judge.jury:Jury",
    # quality — annotator reliability
    "quality.CrowdBT": "prefkit.quality.crowd_bt:CrowdBT",
    "quality.DawidSkene": "prefkit.quality.dawid_skene:DawidSkene",
}
