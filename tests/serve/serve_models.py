"""Small models for the server tests, fitted on simulated data and saved with ``prefkit.save``."""

from __future__ import annotations

import socket
from pathlib import Path

import prefkit
from prefkit import PreferenceDataset
from prefkit.data.simulate import simulate_items, simulate_texts, simulate_users

#: limits the test server runs under (tests/serve/test_security_limits.py exceeds them)
MAX_ITEMS = 64
MAX_TEXT_CHARS = 5000
MAX_BODY_BYTES = 200_000

ITEMS = [f"item_{k:02d}" for k in range(6)]
PAIRS = [(a, b) for a in ITEMS for b in ITEMS if a != b]


def pairs_dataset(pairs, users=None, texts=False, prompts=None) -> PreferenceDataset:
    """The reference dataset, built independently of the server (outcome 'a' everywhere)."""
    rows = []
    for k, (a, b) in enumerate(pairs):
        row = ({"a": "x", "b": "y", "a_text": a, "b_text": b} if texts else {"a": a, "b": b})
        row["winner"] = "a"
        if users is not None:
            row["user_id"] = users[k]
        if prompts is not None:
            row["prompt"] = prompts[k]
        rows.append(row)
    return PreferenceDataset.from_records(rows)


def items_data():
    return simulate_items(n_items=6, n_comparisons=600, tie_param=0.3, seed=1).dataset


def users_data():
    return simulate_users(n_items=6, n_users=30, comparisons_per_user=20, seed=2).dataset


def texts_data():
    return simulate_texts(n_prompts=6, n_pairs=80, n_groups=2, n_users=8, seed=3).dataset


def build_models(root: Path, *, reward: bool = True) -> dict[str, Path]:
    """Fit and save: ``bt`` (Bradley–Terry), ``dav`` (Davidson, ties), ``mix`` (a two-group
    Bradley–Terry mixture of users) and ``rm`` (a linear reward head on the bundled MiniLM)."""
    from prefkit.choice import BradleyTerry, Davidson
    from prefkit.plural import BradleyTerryMixture

    fitted = {
        "bt": BradleyTerry().fit(items_data()),
        "dav": Davidson().fit(items_data()),
        "mix": BradleyTerryMixture(n_components=2).fit(users_data()),
    }
    if reward:
        from prefkit.reward import RewardModel

        fitted["rm"] = RewardModel(None, "linear", epochs=20).fit(texts_data())
    out = {}
    for name, model in fitted.items():
        out[name] = prefkit.save(model, root / name)
    return out


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
