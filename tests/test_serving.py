"""A logged image model answers HTTP: ``mlflow models serve --env-manager local`` takes an image's
bytes in base64, as JSON carries them, and paths still work in Python."""

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import pytest
from test_smoke import autotl, tiny_env

import autotl as autotl_package


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_pyfunc_takes_image_bytes_raw_or_in_base64_as_well_as_paths(tiny, colour_images):
    result = autotl_package.train(colour_images, "tiny", "linear_probe", progress=lambda m: None)
    model = mlflow.pyfunc.load_model(result.model_uri)
    paths = sorted(str(p) for p in colour_images.rglob("*.png"))[:4]
    raw = [open(path, "rb").read() for path in paths]
    encoded = [base64.b64encode(data).decode() for data in raw]
    by_path = model.predict(paths)
    assert by_path.equals(model.predict(raw)) and by_path.equals(model.predict(encoded))
    with pytest.raises(Exception, match="neither an image file nor an image's bytes"):
        model.predict(["not an image, nor base64"])


def test_mlflow_models_serve_answers_a_request_that_carries_an_image(colour_images, tmp_path):
    env = tiny_env(tmp_path)
    trained = autotl(
        "train",
        "--data",
        colour_images,
        "--model",
        "tiny",
        "--strategy",
        "linear_probe",
        "--json",
        env=env,
        cwd=tmp_path,
    )
    assert trained.returncode == 0, trained.stderr
    model_uri = json.loads(trained.stdout)["model_uri"]
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            model_uri,
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env={
            **env,
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # its uvicorn, as when activated
        },
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
                break
            except OSError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "the model server did not start within 2 minutes"
                time.sleep(1)
        image = sorted(colour_images.rglob("*.png"))[0]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=json.dumps({"inputs": [base64.b64encode(image.read_bytes()).decode()]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        [answer] = json.loads(urllib.request.urlopen(request, timeout=60).read())["predictions"]
        assert answer["prediction"] in {"red", "blue"} and 0.5 <= answer["confidence"] <= 1.0
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
