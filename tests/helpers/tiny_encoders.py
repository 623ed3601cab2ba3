"""Tiny randomly initialised sentence-transformers encoders built from a config (no downloads)."""

from __future__ import annotations

from pathlib import Path


def tiny_sentence_encoder(path: Path, seed: int, hidden: int = 16) -> Path:
    """A 1-layer BERT (``hidden`` wide) + mean pooling with the bundled MiniLM tokenizer."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import AutoTokenizer, BertConfig, BertModel

    from prefkit.encode import bundled_model_path

    tok = AutoTokenizer.from_pretrained(bundled_model_path())
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=hidden, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=2 * hidden,
                        max_position_embeddings=64, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0)
    torch.manual_seed(seed)
    raw = path.parent / f".{path.name}-raw-{seed}"
    BertModel(config).save_pretrained(raw)
    tok.save_pretrained(raw)
    word = models.Transformer(str(raw), max_seq_length=48)
    pooling = models.Pooling(word.get_embedding_dimension(), pooling_mode="mean")
    SentenceTransformer(modules=[word, pooling], device="cpu").save(str(path))
    return path
