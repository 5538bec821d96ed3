"""What each transfer strategy and regularizer does to the weights, shown on the tiny model."""

import json

import pytest
import torch
from fakes import FakeSource
from test_plugins import SourcePlugin
from test_train_predict import tiny_bert, train_json

from autotl.contracts.data import IntakeOptions
from autotl.contracts.settings import TrainParams
from autotl.data.intake import read_dataset
from autotl.plugins import build_registry
from autotl.training.classifier import Classifier
from autotl.training.features import FeatureCache
from autotl.training.job import TrainingJob


def run(tiny, data, strategy: str, regularizer: str = "none", seed: int = 0, source_data=None, **settings):
    """Trains the tiny source on ``data``; returns the trained model."""
    registry = build_registry()
    dataset = read_dataset(data, IntakeOptions(), registry.items("data_formats"))
    chosen_strategy = registry.pick("strategies", [strategy])[0]
    chosen_regularizer = registry.pick("regularizers", [regularizer])[0]
    declared = chosen_strategy.settings + chosen_regularizer.settings
    params = TrainParams.from_strings({k: str(v) for k, v in settings.items()}, chosen_strategy.defaults, declared)
    torch.manual_seed(seed)
    job = TrainingJob(
        tiny,
        chosen_regularizer,
        dataset.classes,
        dataset.splits,
        params,
        torch.device("cpu"),
        "accuracy",
        FeatureCache(),
        seed=seed,
        source_data=source_data and read_dataset(source_data, IntakeOptions(), registry.items("data_formats")),
    )
    return chosen_strategy.train(job)


def pretrained(tiny) -> Classifier:
    return Classifier(tiny.load(pretrained=True), 2)


def state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in module.state_dict().items()}


def distance(a: dict, b: dict) -> float:
    return sum(float(((a[name].float() - b[name].float()) ** 2).sum()) for name in a)


@pytest.mark.parametrize("strategy", ["linear_probe", "mlp_probe"])
def test_probes_leave_every_backbone_parameter_and_buffer_bit_identical(tiny, colour_images, strategy):
    trained = run(tiny, colour_images, strategy, epochs=3)
    assert all(
        torch.equal(trained.classifier.backbone.state_dict()[k], v) for k, v in state(pretrained(tiny).backbone).items()
    )
    expected_head = torch.nn.Sequential if strategy == "mlp_probe" else torch.nn.Linear
    assert isinstance(trained.classifier.head, expected_head)


def test_partial_freeze_trains_exactly_the_blocks_above_k(tiny, colour_images):
    # The tiny model's blocks: 0 = (3x3 convolution, batch norm, ReLU), 1 = (1x1 convolution, ReLU).
    before = state(pretrained(tiny).backbone.body)
    after = state(
        run(tiny, colour_images, "partial_freeze", frozen_blocks=1, lr=0.05, epochs=2).classifier.backbone.body
    )
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed == {"1.0.weight", "1.0.bias"}


def test_fine_tuning_keeps_pretrained_batch_norm_statistics_and_scratch_trains_them(tiny, colour_images):
    before = state(pretrained(tiny).backbone.body[0][1])
    tuned = run(tiny, colour_images, "finetune", lr=0.05, epochs=2).classifier.backbone.body[0][1]
    assert all(torch.equal(value, tuned.state_dict()[name]) for name, value in before.items())
    scratch = run(tiny, colour_images, "scratch", lr=0.05, epochs=2).classifier.backbone.body[0][1]
    assert scratch.momentum == 0.1 and int(scratch.num_batches_tracked) > 0


def test_partial_freeze_refuses_more_blocks_than_the_source_has(cli, tiny, colour_images):
    result = cli(
        "train", "--data", colour_images, "--model", "tiny", "--strategy", "partial_freeze", "--set", "frozen_blocks=5"
    )
    assert result.exit_code == 2
    assert "tiny has 2 blocks; choose 0 to 2" in result.stderr


def test_finetune_gives_lower_blocks_smaller_learning_rates(tiny):
    from autotl.training.layers import depth_groups

    classifier = pretrained(tiny)
    groups = depth_groups(classifier.backbone, classifier.head, backbone_ratio=0.1, layer_decay=0.5)
    factor = {id(p): group.lr_factor for group in groups for p in group.params}
    body = classifier.backbone.body
    assert factor[id(classifier.head.weight)] == 1.0
    assert factor[id(body[1][0].weight)] == pytest.approx(0.1)  # the top block
    assert factor[id(body[0][0].weight)] == pytest.approx(0.05)  # one block down


def weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in module.named_parameters()}


def test_l2sp_ends_nearer_the_pretrained_weights_than_no_regularizer(tiny, colour_images):
    start = weights(pretrained(tiny).backbone.body)
    plain = run(tiny, colour_images, "finetune", "none", lr=0.05, epochs=5, batch_size=4)
    anchored = run(tiny, colour_images, "finetune", "l2sp", lr=0.05, epochs=5, batch_size=4, l2sp_alpha=10.0)
    assert distance(weights(anchored.classifier.backbone.body), start) < 0.5 * distance(
        weights(plain.classifier.backbone.body), start
    )


def source_outputs(classifier: Classifier, data) -> torch.Tensor:
    images = classifier.backbone.preprocessor(sorted(str(p) for p in data.rglob("*.png")))
    with torch.no_grad():
        return torch.log_softmax(classifier.backbone.source_head(classifier.backbone.eval()(images)), dim=-1)


def test_kl_keeps_the_source_heads_outputs_nearer_the_original_than_no_regularizer(tiny, colour_images):
    original = source_outputs(pretrained(tiny), colour_images)

    def divergence(trained) -> float:
        now = source_outputs(trained.classifier, colour_images)
        return float(torch.nn.functional.kl_div(now, original, log_target=True, reduction="batchmean"))

    plain = run(tiny, colour_images, "finetune", "none", lr=0.05, epochs=5, batch_size=4)
    kept = run(tiny, colour_images, "finetune", "kl", lr=0.05, epochs=5, batch_size=4, kl_weight=10.0)
    assert divergence(kept) < 0.5 * divergence(plain)
    assert torch.equal(kept.classifier.backbone.source_head.weight, pretrained(tiny).backbone.source_head.weight)


def test_multitask_without_source_data_trains_both_heads(tiny, colour_images):
    before = pretrained(tiny)
    trained = run(tiny, colour_images, "multitask", lr=0.05, epochs=2).classifier
    assert not torch.equal(trained.backbone.source_head.weight, before.backbone.source_head.weight)
    assert not torch.equal(trained.head.weight, Classifier(tiny.load(pretrained=True), 2).head.weight)


def test_multitask_on_source_data_learns_the_source_task_beside_the_target(
    tiny, colour_images, image_folder, monkeypatch
):
    from autotl.builtins.strategies import multitask

    source_data = image_folder({"x": 5, "y": 5, "z": 5})
    seen = []
    original_call = multitask.SourceDataTask.__call__

    def spy(self, inputs):
        loss = original_call(self, inputs)
        seen.append((self.model.backbone.source_head.out_features, float(loss.detach())))
        return loss

    monkeypatch.setattr(multitask.SourceDataTask, "__call__", spy)
    trained = run(tiny, colour_images, "multitask", source_data=source_data, lr=0.05, epochs=2, task_weight=1.0)
    assert seen and all(classes == 3 for classes, _ in seen)  # a head for the source data's three classes
    assert trained.classifier.backbone.source_head.out_features == 5  # the source's own head is back


def test_multitask_needs_a_source_head_or_source_data(cli, tiny, colour_images, image_folder, register_plugin):
    register_plugin(SourcePlugin(FakeSource("headless")), "headless")
    report = json.loads(
        cli(
            "inspect",
            "--data",
            colour_images,
            "--json",
            "--models",
            "headless",
            "--strategies",
            "multitask",
            "--regularizers",
            "none",
        ).stdout
    )
    assert report["candidates"] == []
    assert report["left_out"][0]["reason"] == (
        "multitask needs a source task (a source head, or labelled --source-data), which headless does not offer"
    )


def test_lora_trains_only_the_adapters_and_the_head_and_merges_exactly(tiny, colour_images):
    from autotl.builtins.strategies.lora import add_adapters, merge_adapters
    from autotl.training.batches import raw_batches
    from autotl.training.loop import fit

    classifier = pretrained(tiny)
    add_adapters(classifier.backbone, rank=2)
    before = state(classifier)
    images = sorted(str(p) for p in colour_images.rglob("*.png"))
    labels = [int("blue" in path) for path in images]
    batches = raw_batches(images, labels, classifier.backbone.preprocessor, 8, torch.device("cpu"), shuffle=True)
    fit(classifier, batches, batches, TrainParams(lr=0.05, epochs=2), torch.device("cpu"), "accuracy", 2)
    after = state(classifier)
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed and all("lora_" in name or name.startswith("head.") for name in changed)
    assert any("lora_B" in name for name in changed)
    inputs = classifier.backbone.preprocessor(images)
    with torch.no_grad():
        unmerged = classifier.eval()(inputs)
        merge_adapters(classifier.backbone)
        merged = classifier.eval()(inputs)
    assert torch.allclose(merged, unmerged, atol=1e-5)
    assert not any("lora" in name for name in classifier.state_dict())


def test_lora_on_a_transformer_adapts_its_attention_and_merges_exactly(tmp_path, monkeypatch):
    from autotl.builtins.sources.huggingface import user_encoder
    from autotl.builtins.strategies.lora import add_adapters, merge_adapters

    backbone = user_encoder(str(tiny_bert(tmp_path / "tiny-bert"))).load()
    add_adapters(backbone, rank=2)
    for name, parameter in backbone.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(parameter)  # as if trained: B starts at zero
    assert any("attention.self.query.lora_A" in name for name, _ in backbone.named_parameters())
    batch = backbone.preprocessor(["the film was very good", "a terrible plot"])
    with torch.no_grad():
        unmerged = backbone.eval()(batch)
        merge_adapters(backbone)
        merged = backbone.eval()(batch)
    assert torch.allclose(merged, unmerged, atol=1e-5)


def test_delta_is_zero_at_the_start_and_weighs_channels_to_mean_one(tiny, colour_images):
    from autotl.builtins.regularizers.delta import FeatureMapDistance
    from autotl.training.batches import raw_batches

    classifier = pretrained(tiny)
    images = sorted(str(p) for p in colour_images.rglob("*.png"))
    batches = raw_batches(
        images, [int("blue" in p) for p in images], classifier.backbone.preprocessor, 8, torch.device("cpu")
    )
    term = FeatureMapDistance(classifier, 1.0, batches)
    inputs = next(iter(batches))[0]
    classifier.eval()(inputs)
    assert float(term(inputs)) == 0.0
    assert set(term.attention) == {0, 1} and all(
        torch.allclose(w.mean(), torch.tensor(1.0)) for w in term.attention.values()
    )
    with torch.no_grad():
        classifier.backbone.body[0][0].weight.add_(0.1)
    classifier(inputs)
    assert float(term(inputs)) > 0
    term.close()


def test_bss_penalises_the_smallest_singular_values_of_the_batch_features(tiny, colour_images):
    from autotl.builtins.regularizers.bss import SpectralShrinkage

    classifier = pretrained(tiny)
    term = SpectralShrinkage(classifier, weight=0.5, k=2)
    inputs = classifier.backbone.preprocessor(sorted(str(p) for p in colour_images.rglob("*.png"))[:10])
    features = classifier.backbone(inputs)
    singular = torch.linalg.svdvals(features.detach()).sort().values
    assert float(term(inputs)) == pytest.approx(0.5 * float((singular[:2] ** 2).sum()), rel=1e-5)


def test_every_valid_combination_trains_from_the_command_line(cli, tiny, colour_images, image_folder):
    report = json.loads(cli("inspect", "--data", colour_images, "--json", "--models", "tiny").stdout)
    combinations = [label.split(" + ")[1:] for label in report["candidates"]]
    assert len(combinations) >= 20
    for strategy, regularizer in combinations:
        result = train_json(
            cli,
            "--data",
            colour_images,
            "--model",
            "tiny",
            "--strategy",
            strategy,
            "--regularizer",
            regularizer,
            "--set",
            "epochs=1",
        )
        assert (result["strategy"], result["regularizer"]) == (strategy, regularizer)
        predicted = cli("predict", "--model", result["model_uri"], "--data", colour_images, "--split", "test")
        assert f"Accuracy: {result['test_accuracy']:.4f}" in predicted.stderr, (
            strategy,
            regularizer,
        )  # the saved model is the trained one


def test_the_regularizers_that_need_a_trained_backbone_are_never_built_on_frozen_features(cli, tiny, colour_images):
    report = json.loads(cli("inspect", "--data", colour_images, "--json", "--models", "tiny").stdout)
    reasons = {item["what"]: item["reason"] for item in report["left_out"]}
    assert reasons["tiny + linear_probe + l2sp"] == (
        "l2sp needs pretrained backbone weights that training updates, which tiny with linear_probe does not give"
    )
    assert reasons["tiny + lora + l2sp"].startswith("l2sp needs pretrained backbone weights")
    assert "tiny + lora + kl" in report["candidates"]


def test_source_data_on_the_command_line(cli, tiny, colour_images, image_folder, text_file):
    source_data = image_folder({"x": 4, "y": 4, "z": 4})
    report = train_json(
        cli,
        "--data",
        colour_images,
        "--model",
        "tiny",
        "--strategy",
        "multitask",
        "--source-data",
        source_data,
        "--set",
        "epochs=1",
    )
    assert f"--source-data {source_data}" in report["train_command"]
    texts = text_file([["text", "label"]] + [[f"words {i}", "ab"[i % 2]] for i in range(12)])
    result = cli("train", "--data", colour_images, "--model", "tiny", "--strategy", "multitask", "--source-data", texts)
    assert result.exit_code == 2
    assert f"--source-data {texts}: text data, but the target is image" in result.stderr
