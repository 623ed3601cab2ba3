"""The Jinja2 templates of the data-quality section (:mod:`prefkit.report.quality`).

One template per part, included by ``quality.html``; every value from the data goes through
autoescaping, numbers through the ``num`` filter ("—" for a missing one).
"""

# ruff: noqa: E501  (HTML templates: long lines are markup)
from __future__ import annotations

from prefkit.report.html import register_template

HEAD = """<p class="note">{{ doc.get("records")|num(0) }} {{ doc.get("kind", "") }} records{% if doc.get("source") %} from
{{ doc.source }}{% endif %}.</p>
{% for name, reason in skipped %}<p class="note">{{ name }}: skipped — {{ reason }}</p>{% endfor %}"""

ANNOTATORS = """{% if annotators %}<h3>Annotator reliability ({{ {"dawid-skene": "Dawid–Skene"}.get(reliability_model, "Crowd-BT") }})</h3>
<div class="scroll"><table class="sortable annotators"><thead><tr><th class="name">annotator</th><th>labels</th>
<th>reliability η</th><th>lower</th><th>upper</th><th>majority agreement</th>{% if annotators|selectattr("tie", "ne", none)|list %}<th>{{ "tie agreement" if reliability_model == "dawid-skene" else "tie rate" }}</th>{% endif %}<th class="name">flags</th></tr></thead><tbody>
{% set with_tie = annotators|selectattr("tie", "ne", none)|list %}{% for r in annotators %}<tr><td class="name">{{ r.name }}</td><td data-sort="{{ r.n|sortkey }}">{{ r.n|num(0) }}</td>
<td data-sort="{{ r.reliability|sortkey }}">{{ r.reliability|num(3) }}</td><td data-sort="{{ r.low|sortkey }}">{{ r.low|num(3) }}</td>
<td data-sort="{{ r.high|sortkey }}">{{ r.high|num(3) }}</td><td data-sort="{{ r.majority|sortkey }}">{{ r.majority|num(3) }}</td>
{% if with_tie %}<td data-sort="{{ r.tie|sortkey }}">{{ r.tie|num(3) }}</td>{% endif %}<td class="name">{{ r.flags }}</td></tr>{% endfor %}</tbody></table></div>{% endif %}
{% if identification %}<p class="identification">Identification: {{ identification.get("comparisons")|num(0) }} comparisons,
{{ identification.get("shared_comparisons")|num(0) }} labelled by several annotators, {{ identification.get("labels_per_comparison")|num(2) }} labels per comparison;
{{ identification.get("annotators")|num(0) }} annotators, {{ identification.get("annotators_with_one_label")|num(0) }} with one label,
{{ identification.get("annotators_without_overlap")|num(0) }} sharing no comparison with another.</p>
{% for w in identification.get("warnings") or [] %}<p class="note">{{ w }}</p>{% endfor %}{% endif %}
{% if heldout %}<p class="heldout">Held-out label agreement ({{ heldout.get("n")|num(0) }} labels): model <span class="big">{{ heldout.get("model")|num(3) }}</span>,
majority vote {{ heldout.get("majority")|num(3) }}.</p>{% endif %}"""

EFFECTS_TABLE = """<table class="sortable effects"><thead><tr><th class="name">property</th><th>log-odds per SD</th><th>lower</th><th>upper</th>
{% if bayes %}<th>se</th><th>P(β &gt; 0)</th>{% endif %}<th>SD of a − b</th><th>records differing</th></tr></thead><tbody>
{% for r in rows %}<tr><td class="name">{{ r.name }}</td><td data-sort="{{ r.coef|sortkey }}">{{ r.coef|num(3, True) }}</td>
<td data-sort="{{ r.low|sortkey }}">{{ r.low|num(3, True) }}</td><td data-sort="{{ r.high|sortkey }}">{{ r.high|num(3, True) }}</td>
{% if bayes %}<td data-sort="{{ r.se|sortkey }}">{{ r.se|num(3) }}</td><td data-sort="{{ r.prob_positive|sortkey }}">{{ r.prob_positive|num(3) }}</td>{% endif %}
<td data-sort="{{ r.sd|sortkey }}">{{ r.sd|num(3) }}</td><td data-sort="{{ r.nonzero|sortkey }}">{{ r.nonzero|num(0) }}</td></tr>
{% endfor %}</tbody></table>"""

DRIVERS = """{% set d = drivers %}{% if d and d.effects %}<h3>What drives the preferences</h3>
<p class="covariance">{{ d.overall.get("n")|num(0) }} records, method {{ d.overall.get("method", "bootstrap") }}; intervals: <span class="covariance-kind" data-covariance="{{ d.covariance }}">{{ d.covariance_text }}</span>.</p>
{% with rows = d.effects, bayes = d.bayes %}{% include "quality_effects.html" %}{% endwith %}
{% if d.not_estimated %}<p class="note">Not estimated (differ in too few records): {{ d.not_estimated|join(", ") }}.</p>{% endif %}
{% for name, twin in d.collinear %}<p class="note">{{ name }}: left out, collinear with {{ twin }}.</p>{% endfor %}
{% for g, block, rows in d.groups %}<h4>{{ d.by_column }} = {{ g }} ({{ block.get("n")|num(0) }} records)</h4>
{% with bayes = rows|selectattr("se", "ne", none)|list|length > 0 %}{% include "quality_effects.html" %}{% endwith %}{% endfor %}
{% if d.population %}<h4>Partially pooled per {{ d.by_column }}</h4><p class="note">{{ d.hierarchical.get("model", "") }}{% if d.hierarchical.get("note") %} — {{ d.hierarchical.note }}{% endif %}</p>
<table class="sortable hierarchical"><thead><tr><th class="name">property</th><th>μ</th><th>lower</th><th>upper</th><th>τ</th></tr></thead><tbody>
{% for name, r in d.population %}<tr><td class="name">{{ name }}</td><td data-sort="{{ r.get('coef')|sortkey }}">{{ r.get("coef")|num(3, True) }}</td>
<td>{{ (r.get("interval") or [none, none])[0]|num(3, True) }}</td><td>{{ (r.get("interval") or [none, none])[1]|num(3, True) }}</td><td data-sort="{{ r.get('tau')|sortkey }}">{{ r.get("tau")|num(3) }}</td></tr>{% endfor %}</tbody></table>
<table class="sortable pooled"><thead><tr><th class="name">{{ d.by_column }}</th><th>records</th><th class="name">pooled effect (unpooled)</th></tr></thead><tbody>
{% for g, n, effects in d.pooled %}<tr><td class="name">{{ g }}</td><td>{{ n|num(0) }}</td><td class="name">{% for p, e in effects %}{{ p }} {{ e.get("coef")|num(3, True) }} ({{ e.get("unpooled")|num(3, True) }}){% if not loop.last %}; {% endif %}{% endfor %}</td></tr>{% endfor %}</tbody></table>{% endif %}
{% if d.controlled.get("skipped") %}<p class="note">style-controlled comparison: skipped — {{ d.controlled.skipped }}</p>{% endif %}
{% if d.controlled_items %}<h4>Style-controlled item strengths (properties held fixed)</h4>
<p class="note">{{ d.controlled.get("records")|num(0) }} records; {{ d.controlled.get("rank_changes")|num(0) }} items change rank under control.</p>
<table class="sortable controlled"><thead><tr><th class="name">item</th><th>raw</th><th>raw rank</th><th>controlled</th><th>controlled rank</th><th>win rate</th><th>records</th></tr></thead><tbody>
{% for name, r in d.controlled_items %}<tr><td class="name">{{ name }}</td><td data-sort="{{ r.get('raw')|sortkey }}">{{ r.get("raw")|num(3, True) }}</td><td>{{ r.get("raw_rank")|num(0) }}</td>
<td data-sort="{{ r.get('controlled')|sortkey }}">{{ r.get("controlled")|num(3, True) }}</td><td>{{ r.get("controlled_rank")|num(0) }}</td><td data-sort="{{ r.get('win_rate')|sortkey }}">{{ r.get("win_rate")|num(3) }}</td><td>{{ r.get("n")|num(0) }}</td></tr>{% endfor %}</tbody></table>
{% if d.controlled_properties %}<table class="controlled-properties"><thead><tr><th class="name">property (controlled fit)</th><th>log-odds per SD</th><th>lower</th><th>upper</th></tr></thead><tbody>
{% for name, r in d.controlled_properties %}<tr><td class="name">{{ name }}</td><td>{{ r.get("coef")|num(3, True) }}</td><td>{{ (r.get("interval") or [none, none])[0]|num(3, True) }}</td><td>{{ (r.get("interval") or [none, none])[1]|num(3, True) }}</td></tr>{% endfor %}</tbody></table>{% endif %}{% endif %}{% endif %}"""

LENGTH = """{% if length %}<p class="length-bias">Length bias: the longer response wins <span class="big">{{ length.get("longer_win_rate")|num(3) }}</span>
[{{ length_interval[0]|num(3) }}, {{ length_interval[1]|num(3) }}] of {{ length.get("n")|num(0) }} decisive comparisons.</p>
{% if bins %}<table class="length-bins"><thead><tr><th class="name">length difference (tokens)</th><th>records</th><th>longer wins</th><th>lower</th><th>upper</th></tr></thead><tbody>
{% for b in bins %}<tr><td class="name">{{ b.get("min_diff")|num(0) }}–{% if b.get("max_diff") is none %}∞{% else %}{{ b.max_diff|num(0) }}{% endif %}</td><td>{{ b.get("n")|num(0) }}</td>
<td>{{ b.get("longer_win_rate")|num(3) }}</td><td>{{ (b.get("interval") or [none, none])[0]|num(3) }}</td><td>{{ (b.get("interval") or [none, none])[1]|num(3) }}</td></tr>{% endfor %}</tbody></table>{% endif %}{% endif %}"""

FLIPS = """{% if f %}<h3>{{ title }}</h3><p class="{{ kind }}">Estimated flip rate ε = <span class="big">{{ f.get("flip_rate")|num(3) }}</span>{% if f.interval[0] is not none %}
[{{ f.interval[0]|num(3) }}, {{ f.interval[1]|num(3) }}]{% endif %}; mean cross-fitted P(flipped) {{ f.get("flip_rate_posterior")|num(3) }};
{{ f.get("flagged")|num(0) }} records flagged (P(flipped) &gt; ½){% if f.get("records") is not none %} of {{ f.records|num(0) }}{% endif %}.</p>
{% if f.get("crossfit_accuracy") is not none or f.get("disagreement_rate") is not none %}<p class="rm-fit">The reward ensemble disagrees with {{ f.get("disagreement_rate")|num(3) }} of the labels (the baseline);
cross-fitted accuracy {{ f.get("crossfit_accuracy")|num(3) }}; strength scale α = {{ f.get("scale")|num(3) }}.</p>{% endif %}
{% if f.features_text %}<p class="features">Features: <span class="feature-set" data-features="{{ f.get('features') }}">{{ f.features_text }}</span> (<code>{{ f.get("features") }}</code>).</p>{% endif %}
{% if f.suspects %}<table class="sortable suspects"><thead><tr><th>record</th><th>P(flipped)</th><th>strength</th>{% if f.suspects[0].get("strength_sd") is not none %}<th>± sd</th>{% endif %}</tr></thead><tbody>
{% for r in f.suspects %}<tr><td data-sort="{{ r.get('row')|sortkey }}">{{ r.get("row") }}</td><td data-sort="{{ r.get('flip_prob')|sortkey }}">{{ r.get("flip_prob")|num(3) }}</td>
<td data-sort="{{ r.get('strength')|sortkey }}">{{ r.get("strength")|num(3, True) }}</td>{% if f.suspects[0].get("strength_sd") is not none %}<td>{{ r.get("strength_sd")|num(3) }}</td>{% endif %}</tr>{% endfor %}
</tbody></table>{% endif %}
{% if f.repairs %}<p class="note">Held-out reward-model accuracy after each repair (80/20 splits by prompt: {{ f.heldout.get("splits")|num(0) }}; test records per split: {{ f.heldout.get("test_records")|num(0) }}; ε {{ f.heldout.get("flip_rate")|num(3) }}; share flagged {{ f.heldout.get("flagged_share")|num(3) }}):</p>
<table class="repairs"><thead><tr><th class="name">repair</th><th>accuracy</th><th>sd</th>{% if f.repairs[0][1].get("clean_accuracy") is not none %}<th>vs clean labels</th>{% endif %}</tr></thead><tbody>
{% for how, r in f.repairs %}<tr><td class="name">{{ how }}</td><td>{{ r.get("accuracy")|num(4) }}</td><td>{{ r.get("accuracy_sd")|num(4) }}</td>{% if f.repairs[0][1].get("clean_accuracy") is not none %}<td>{{ r.get("clean_accuracy")|num(4) }}</td>{% endif %}</tr>{% endfor %}</tbody></table>{% endif %}
{% if f.get("written") %}<p class="note">Repaired data written to <code>{{ f.written }}</code>.</p>{% endif %}{% endif %}"""

DUPLICATES = """{% set u = duplicates %}{% if u %}<h3>Duplicates</h3><p class="note">Near duplicate: {{ u.block.get("similarity", "similarity") }} ≥ {{ u.block.get("threshold")|num(2) }}.</p>
{% if u.fields %}<table class="duplicates"><thead><tr><th class="name">field</th><th>texts</th><th>distinct</th><th>repeated verbatim</th><th>near-duplicate groups</th><th>texts in near groups</th></tr></thead><tbody>
{% for name, p, groups in u.fields %}<tr><td class="name">{{ name }}</td>{% if p.get("skipped") %}<td class="name" colspan="5">skipped — {{ p.skipped }}</td>{% else %}<td>{{ p.get("texts")|num(0) }}</td><td>{{ p.get("distinct")|num(0) }}</td>
<td>{{ p.get("exact_groups")|num(0) }}</td><td>{{ p.get("near_groups")|num(0) }}</td><td>{{ p.get("texts_in_near_groups")|num(0) }}</td>{% endif %}</tr>{% endfor %}</tbody></table>
{% for name, p, groups in u.fields %}{% if groups %}<table class="duplicate-groups"><thead><tr><th class="name">{{ name }} group</th><th>similarity</th><th>records</th><th>variants</th><th class="name">example</th></tr></thead><tbody>
{% for g in groups %}<tr><td class="name">{{ g.get("kind") }}</td><td>{{ g.get("similarity")|num(3) }}</td><td>{{ g.get("occurrences")|num(0) }}</td><td>{{ g.get("distinct")|num(0) }}</td><td class="text">{{ g.example }}</td></tr>{% endfor %}</tbody></table>{% endif %}{% endfor %}{% endif %}
{% if u.records_part.get("skipped") %}<p class="note">duplicate records: skipped — {{ u.records_part.skipped }}</p>{% elif u.records_part %}<p class="duplicate-records">Records repeating the prompt and both responses: {{ u.records_part.get("records")|num(0) }} in {{ u.records_part.get("groups")|num(0) }} groups{% if u.records_part.get("by") %} (by {{ u.records_part.by }}){% endif %}.</p>
{% for x in u.record_examples %}<p class="note text">{{ x }}</p>{% endfor %}{% endif %}
{% if u.against %}<h4>Leaks into {{ u.against.get("file", "the test file") }} ({{ u.against.get("records")|num(0) }} test records)</h4>
<table class="leaks"><thead><tr><th class="name">field</th><th>exact</th><th>near</th><th>distinct test texts</th><th>test records</th></tr></thead><tbody>
{% for name, p in u.leaks %}<tr><td class="name">{{ name }}</td>{% if p.get("skipped") %}<td class="name" colspan="4">skipped — {{ p.skipped }}</td>{% else %}<td>{{ p.get("exact")|num(0) }}</td><td>{{ p.get("near")|num(0) }}</td><td>{{ p.get("test_distinct")|num(0) }}</td><td>{{ p.get("test_rows")|num(0) }}</td>{% endif %}</tr>{% endfor %}</tbody></table>
{% for by, leaked, examples in u.split %}<p class="split-leakage">Split leakage by {{ by }}: {{ leaked|num(0) }} shared values{% if examples %}, e.g. {% for x in examples %}<q>{{ x }}</q>{% if not loop.last %}, {% endif %}{% endfor %}{% endif %}.</p>{% endfor %}{% endif %}{% endif %}"""

NEXT = """{% if next_pairs %}<h3>Pairs to label next</h3><table class="sortable next-pairs"><thead><tr><th class="name">a</th><th class="name">b</th><th>P(a ≻ b)</th><th>sd of the difference</th><th>gain</th></tr></thead><tbody>
{% for p in next_pairs %}<tr><td class="name">{{ p.get("a") }}</td><td class="name">{{ p.get("b") }}</td><td>{{ p.get("p_a")|num(3) }}</td><td>{{ p.get("sd_diff")|num(3) }}</td><td data-sort="{{ p.get('gain')|sortkey }}">{{ "%.3g"|format(p.get("gain") or 0) }}</td></tr>{% endfor %}</tbody></table>{% endif %}
{% if proposals %}<h3>Records the reward ensemble disagrees about most</h3>{% if next_part.get("reward_model") %}<p class="note">reward model <code>{{ next_part.reward_model }}</code></p>{% endif %}
<table class="sortable proposals"><thead><tr><th>record</th><th>disagreement</th><th>score</th><th>P(a ≻ b)</th></tr></thead><tbody>
{% for p in proposals %}<tr><td>{{ p.get("row") }}</td><td>{{ p.get("disagreement")|num(3) }}</td><td data-sort="{{ p.get('score')|sortkey }}">{{ p.get("score")|num(3) }}</td><td>{{ p.get("p_a")|num(3) }}</td></tr>{% endfor %}</tbody></table>{% endif %}"""

WIMHF = """{% set w = wimhf %}{% if w %}<h3>WIMHF: sparse-autoencoder features that predict the preference</h3>
<p class="wimhf-signal">{{ w.block.get("n_pairs")|num(0) }} pairs ({{ w.block.get("n_decisive")|num(0) }} decisive). Cross-validated AUC: top {{ w.signal.get("top_m")|num(0) }} features
<span class="big">{{ w.signal.get("auc_top_features")|num(3) }}</span>, all measurable features {{ w.signal.get("auc_all_features")|num(3) }}, black box on the embedding difference
{{ w.signal.get("auc_black_box")|num(3) }}{% if w.signal.get("share_of_black_box") is not none %} (share of the black-box signal {{ w.signal.share_of_black_box|num(3) }}){% endif %}.</p>
<p class="note">SAE: {{ w.sae.get("n_features")|num(0) }} latents, {{ w.sae.get("k")|num(0) }} active per pair ({{ w.sae.get("sparsity", "") }}), {{ w.sae.get("dim")|num(0) }}-dimensional input;
variance explained {{ w.sae.get("variance_explained")|num(3) }}, final loss {{ w.sae.get("final_loss")|num(4) }}; {{ w.sae.get("measurable")|num(0) }} measurable, {{ w.sae.get("dead")|num(0) }} dead.
First position: {{ w.first.get("coef")|num(3, True) }} [{{ w.first_interval[0]|num(3, True) }}, {{ w.first_interval[1]|num(3, True) }}].</p>
<div class="scroll"><table class="sortable wimhf-features"><thead><tr><th>feature</th><th>β</th><th>lower</th><th>upper</th><th>P(β &gt; 0)</th><th>more-of-it wins</th><th>lower</th><th>upper</th><th>pairs active</th><th>mirror</th><th class="name">example: more of it / less of it</th></tr></thead><tbody>
{% for f in w.features %}<tr><td>{{ f.get("feature") }}</td><td data-sort="{{ f.get('coef')|sortkey }}">{{ f.get("coef")|num(3, True) }}</td><td>{{ f.low|num(3, True) }}</td><td>{{ f.high|num(3, True) }}</td>
<td>{{ f.get("prob_positive")|num(3) }}</td><td data-sort="{{ f.get('win_rate')|sortkey }}">{{ f.get("win_rate")|num(3) }}</td><td>{{ f.win_low|num(3) }}</td><td>{{ f.win_high|num(3) }}</td>
<td data-sort="{{ f.get('n_active')|sortkey }}">{{ f.get("n_active")|num(0) }}</td><td>{{ "—" if f.get("mirror") is none else f.mirror }}</td>
<td class="text">{% for e in f.shown_examples %}<div class="example">record {{ e.get("row") }}{% if e.get("more_won") is not none %} ({{ "more-of-it won" if e.more_won else "less-of-it won" }}){% endif %}: <q>{{ e.more_text }}</q> / <q>{{ e.less_text }}</q></div>{% endfor %}</td></tr>{% endfor %}</tbody></table></div>
{% if w.more %}<p class="note">{{ w.more }} more features in wimhf.json.</p>{% endif %}{% endif %}"""

QUALITY = """{% include "quality_head.html" %}
{% include "quality_annotators.html" %}
{% include "quality_drivers.html" %}
{% include "quality_length.html" %}
{% with f = flips, title = "Flipped labels", kind = "flips" %}{% include "quality_flips.html" %}{% endwith %}
{% with f = rm_flips, title = "Flipped labels (reward-model ensemble)", kind = "rm-flips" %}{% include "quality_flips.html" %}{% endwith %}
{% include "quality_duplicates.html" %}
{% include "quality_next.html" %}
{% include "quality_wimhf.html" %}
<div class="figures">{% for fig in figures %}<figure>{{ fig }}</figure>{% endfor %}
{% for name, uri in images %}<figure><img alt="{{ name }}" src="{{ uri }}" width="600"><figcaption>{{ name }}</figcaption></figure>{% endfor %}</div>
{% for note in notes %}<p class="note">{{ note }}</p>{% endfor %}
"""

TEMPLATES = {
    "quality.html": QUALITY, "quality_head.html": HEAD, "quality_annotators.html": ANNOTATORS,
    "quality_effects.html": EFFECTS_TABLE, "quality_drivers.html": DRIVERS,
    "quality_length.html": LENGTH, "quality_flips.html": FLIPS,
    "quality_duplicates.html": DUPLICATES, "quality_next.html": NEXT,
    "quality_wimhf.html": WIMHF,
}


def register_quality_templates() -> None:
    """Add the quality templates to the page's environment."""
    for name, text in TEMPLATES.items():
        register_template(name, text)
