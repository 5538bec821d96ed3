"""A logged image model answers HTTP: ``mlflow models serve --env-manager local`` takes an image's
bytes in base64, as JSON carries them, and a path only under the folder that AUTOTL_SERVE_ROOT
names, answering every refused path alike; in Python, ``autotl.load`` takes paths."""

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pytest
from PIL import Image
from test_smoke import autotl, tiny_env

import autotl as autotl_package
from autotl.data.image_files import REFUSED
from autotl.errors import AutotlError


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_pyfunc_takes_image_bytes_raw_or_in_base64_and_no_path(tiny, colour_images, tmp_path):
    result = autotl_package.train(colour_images, "tiny", "linear_probe", progress=lambda m: None)
    (tmp_path / "pyfunc").mkdir()
    model = mlflow.pyfunc.load_model(result.model_uri, dst_path=str(tmp_path / "pyfunc"))
    paths = sorted(str(p) for p in colour_images.rglob("*.png"))[:4]
    raw = [open(path, "rb").read() for path in paths]
    encoded = [base64.b64encode(data).decode() for data in raw]
    by_bytes = model.predict(raw)
    assert by_bytes.equals(model.predict(encoded))
    for refused in (paths[0], "not an image, nor base64", "/etc/passwd"):
        with pytest.raises(AutotlError, match="paths only there"):
            model.predict([refused])
    with autotl_package.load(result.model_uri) as predictor:  # in this process, paths are the caller's own
        assert predictor.predict(paths).equals(by_bytes) and predictor.predict(raw).equals(by_bytes)
        probabilities = predictor.predict_proba(paths)
    assert list(probabilities.columns) == ["blue", "red"] and np.allclose(probabilities.sum(axis=1), 1)
    assert list(probabilities.idxmax(axis=1)) == list(by_bytes["prediction"])


def test_the_served_paths_lie_under_the_folder_the_deployment_names(tiny, colour_images, tmp_path, monkeypatch):
    result = autotl_package.train(colour_images, "tiny", "linear_probe", progress=lambda m: None)
    root, inside, elsewhere = _served_folder(colour_images, tmp_path)
    monkeypatch.setenv("AUTOTL_SERVE_ROOT", str(root))
    (tmp_path / "pyfunc").mkdir()
    model = mlflow.pyfunc.load_model(result.model_uri, dst_path=str(tmp_path / "pyfunc"))
    assert model.predict([inside, "inside.png"]).equals(model.predict([Path(inside).read_bytes()] * 2))
    for refused in (elsewhere, str(root / "out.png"), str(root / "huge.png"), str(root / "missing.png")):
        with pytest.raises(AutotlError) as error:
            model.predict([refused])
        assert str(error.value) == f"input 1: {REFUSED}"
    monkeypatch.setenv("AUTOTL_SERVE_ROOT", str(tmp_path / "nowhere"))
    with pytest.raises(Exception, match="AUTOTL_SERVE_ROOT=.*nowhere.* is not a folder"):
        mlflow.pyfunc.load_model(result.model_uri, dst_path=str(tmp_path / "pyfunc"))


def _served_folder(colour_images: Path, tmp_path: Path) -> tuple[Path, str, str]:
    """A folder to serve images from: one image in it, a link in it to an image outside it
    (``out.png``), and a 12000 x 12000 image (``huge.png``); the paths of the image inside and of
    one outside."""
    root = tmp_path / "served"
    root.mkdir()
    images = sorted(colour_images.rglob("*.png"))
    (root / "inside.png").write_bytes(images[0].read_bytes())
    (root / "out.png").symlink_to(images[1])
    Image.new("1", (12000, 12000)).save(root / "huge.png")
    return root, str(root / "inside.png"), str(images[1])


def test_mlflow_models_serve_answers_bytes_and_refuses_every_path_alike(colour_images, tmp_path):
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
    root, inside, elsewhere = _served_folder(colour_images, tmp_path)
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
            "AUTOTL_SERVE_ROOT": str(root),
            "TMPDIR": str(tmp_path),  # where MLflow's serve command leaves its own copy of the model
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
        status, answer = _post(port, base64.b64encode(image.read_bytes()).decode())
        [prediction] = json.loads(answer)["predictions"]
        assert status == 200 and prediction["prediction"] in {"red", "blue"} and 0.5 <= prediction["confidence"] <= 1
        assert _post(port, inside)[0] == 200  # the deployment opted in for this folder
        refusals = {
            path: _post(port, path)
            for path in ("/etc/passwd", elsewhere, str(root / "out.png"), str(root / "huge.png"), "/nowhere.png")
        }
        assert {status for status, _ in refusals.values()} == {400}, refusals
        assert len({body for _, body in refusals.values()}) == 1, refusals  # the same answer, whatever the file
        assert REFUSED in refusals["/etc/passwd"][1]
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def _post(port: int, image: str) -> tuple[int, str]:
    """The status and body of the server's answer to a request that carries ``image``."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations",
        data=json.dumps({"inputs": [image]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
