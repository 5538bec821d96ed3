"""GPT-2-style decoders as text sources: padded with their end-of-text token, pooled at the last
real token (or averaged, with ``#mean``), their blocks found for partial freezing and LoRA."""

import json
from pathlib import Path

import pytest
import torch

from autotl.builtins.sources.huggingface import user_encoder

TEXTS = [f"the film was very {w}" for w in "good bad great awful fine poor nice terrible".split()]


def tiny_gpt2(folder: Path) -> Path:
    """A 2-layer, 16-wide GPT-2 with a byte-level BPE tokenizer trained on a few sentences and,
    like GPT-2's own, no padding token; saved as a Hugging Face folder."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2Model, GPT2TokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator(TEXTS * 3, trainer)
    tokenizer = GPT2TokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", bos_token="<|endoftext|>")
    assert tokenizer.pad_token is None
    tokenizer.save_pretrained(folder)
    config = GPT2Config(vocab_size=bpe.get_vocab_size(), n_positions=64, n_embd=16, n_layer=2, n_head=2)
    GPT2Model(config).save_pretrained(folder)
    return folder


@pytest.fixture
def gpt2_folder(tmp_path) -> Path:
    return tiny_gpt2(tmp_path / "tiny-gpt2")


@pytest.mark.parametrize("suffix, pooling", [("", "last"), ("#mean", "mean")])
def test_a_decoder_pads_with_its_end_token_and_a_text_pools_the_same_alone_or_beside_a_longer_one(
    gpt2_folder, suffix, pooling
):
    source = user_encoder(f"{gpt2_folder}{suffix}")
    assert source.availability().available and source.spec.feature_dim == 16
    backbone = source.load().eval()
    assert backbone.body.pooling == pooling and len(backbone.blocks) == 2
    short, long = "good film", "the plot was very very poor and the film was awful"
    with torch.no_grad():
        alone = backbone(backbone.preprocessor([short]))
        padded = backbone(backbone.preprocessor([short, long]))
    assert backbone.preprocessor([short, long])["attention_mask"][0].tolist().count(0) > 0  # it was padded
    assert torch.allclose(alone[0], padded[0], atol=1e-5)


def test_an_unknown_pooling_is_the_reason_the_source_is_unavailable(gpt2_folder):
    availability = user_encoder(f"{gpt2_folder}#max").availability()
    assert not availability.available and availability.reason == "unknown pooling #max: write #mean or #last"


@pytest.mark.parametrize(
    "strategy, settings", [("finetune", []), ("partial_freeze", ["--set", "frozen_blocks=1"]), ("lora", [])]
)
def test_a_decoder_fine_tunes_and_its_logged_model_predicts(
    cli, tiny, text_file, gpt2_folder, monkeypatch, strategy, settings
):
    monkeypatch.setenv("AUTOTL_HF_MODELS", str(gpt2_folder))
    rows = [["text", "label"]] + [
        [text, "pos" if text.split()[-1] in "good great nice fine" else "neg"] for text in TEXTS * 3
    ]
    data = text_file(rows)
    result = cli(
        "train",
        "--data",
        data,
        "--model",
        "tiny-gpt2",
        "--strategy",
        strategy,
        "--set",
        "epochs=1",
        *settings,
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    predicted = cli("predict", "--model", report["model_uri"], "--data", data, "--split", "test")
    assert predicted.exit_code == 0, predicted.output
    assert f"Accuracy: {report['test_accuracy']:.4f}" in predicted.stderr
