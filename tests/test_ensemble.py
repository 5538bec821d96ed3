"""An ensemble as the final model of a select: one logged model that predict, the pyfunc and the
Python loader use like any other; its members are checked before they are read. (When an
ensemble wins is autotl.selection.decision's rule, simulated in test_decision.py; here the
decision is made to choose it, to follow what happens next.)"""

import json
import pickle

import mlflow
import numpy as np
import pytest

import autotl
from autotl.selection import decision as deciding
from autotl.selection import selector


class TwinsPlugin:
    @autotl.hookimpl
    def register_sources(self, register):
        import tiny_plugin
        from fakes import FakeSource

        for name in ("twin", "triplet"):
            register(FakeSource(name, checkpoint=tiny_plugin.SOURCE.checkpoint))


@pytest.fixture
def ensemble_of_probes(tiny, register_plugin, monkeypatch):
    """The decision, made to choose an equal-weight ensemble of the three sources' linear probes."""
    register_plugin(TwinsPlugin(), "twins-plugin")
    decide = deciding.decide

    def choosing_the_probes(footing, contenders, metric, prior_depth, seed=0):
        decided = decide(footing, contenders, metric, prior_depth, seed)
        probes = [c for c in contenders if c.transfers and "linear_probe" in c.name][:3]
        weights = {c.name: 1 / len(probes) for c in probes}
        averaged = deciding.average({c.name: c.probabilities for c in probes}, weights)
        decided.ensemble = deciding.Ensemble(weights, averaged, float(np.mean(averaged.argmax(1) == footing.labels)))
        decided.chosen, decided.why = deciding.ENSEMBLE, "an ensemble of 3 (made so by the test)"
        decided.notes[deciding.ENSEMBLE] = "chosen"
        return decided

    monkeypatch.setattr(selector, "decide", choosing_the_probes)


def select_json(cli, data) -> dict:
    result = cli(
        "select",
        "--data",
        data,
        "--budget",
        "1h",
        "--models",
        "tiny,twin,triplet",
        "--strategies",
        "linear_probe",
        "--json",
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_an_ensemble_of_three_probes_is_one_logged_model(cli, ensemble_of_probes, colour_images, tmp_path):
    report = select_json(cli, colour_images)
    assert report["strategy"] == "ensemble" and report["source"] is None and report["train_command"] == ""
    assert [m["weight"] for m in report["members"]] == pytest.approx([1 / 3] * 3)
    assert {m["candidate"].split(": ")[1] for m in report["members"]} == {
        f"{s} + linear_probe + none" for s in ("tiny", "twin", "triplet")
    }
    row = next(r for r in report["leaderboard"] if r["state"] == "ensemble")
    assert row["candidate"].startswith("ensemble: ") and row["reason"] == "chosen"
    assert mlflow.get_run(report["run_id"]).data.tags["autotl.final_model"] == "ensemble"
    assert report["expected_accuracy"]["examples"] == 24 and "BBC-CV" in report["expected_accuracy"]["method"]

    paths = sorted(str(p) for p in colour_images.rglob("*.png"))
    python = autotl.load(report["model_uri"]).predict(paths)
    (tmp_path / "pyfunc").mkdir()
    pyfunc = mlflow.pyfunc.load_model(report["model_uri"], dst_path=str(tmp_path / "pyfunc"))
    pyfunc = pyfunc.predict([open(path, "rb").read() for path in paths])
    assert list(python["prediction"]) == list(pyfunc["prediction"])
    assert np.mean([p.split("/")[-2] == c for p, c in zip(paths, python["prediction"])]) > 0.9
    output = tmp_path / "predictions.csv"
    predicted = cli("predict", "--model", report["model_uri"], "--data", colour_images, "--output", output)
    assert predicted.exit_code == 0, predicted.output
    assert "Accuracy: 1.0000" in predicted.output and output.read_text().startswith("input,label,prediction,confidence")

    exported = cli("export", "--model", report["model_uri"], "--format", "torchscript", "--output", tmp_path / "m.pt")
    assert exported.exit_code == 2 and "an ensemble is not exported as one file" in exported.output


TAMPERING = {
    "a corrupt member": (lambda bundle: (bundle / "member-1" / "weights.pt").write_bytes(b"junk"), "member"),
    "a pickled member": (
        lambda bundle: (bundle / "member-0" / "weights.pt").write_bytes(pickle.dumps({"planted": object()})),
        "member",
    ),
    "a member outside": (
        lambda bundle: _edit(bundle, lambda m: m["members"][0].update(folder="../../elsewhere")),
        "member-N folder",
    ),
    "weights that do not sum to 1": (
        lambda bundle: _edit(bundle, lambda m: m["members"][0].update(weight=5)),
        "weights",
    ),
}


def test_a_tampered_ensemble_is_refused_in_one_line(cli, ensemble_of_probes, colour_images, tmp_path):
    import shutil

    from autotl.logged_model import bundle_of

    logged = mlflow.artifacts.download_artifacts(
        artifact_uri=select_json(cli, colour_images)["model_uri"], dst_path=str(tmp_path / "logged")
    )
    for case, (tamper, refusal) in TAMPERING.items():
        folder = tmp_path / case.replace(" ", "-")
        shutil.copytree(logged, folder)
        bundle = bundle_of(folder, case)
        tamper(bundle)
        result = cli("predict", "--model", bundle, "--data", colour_images)
        assert result.exit_code == 2, case
        assert result.output.startswith("Error: ") and refusal in result.output, case
        assert len(result.output.splitlines()) == 1, case


def _edit(bundle, change) -> None:
    manifest = json.loads((bundle / "autotl_model.json").read_text())
    change(manifest)
    (bundle / "autotl_model.json").write_text(json.dumps(manifest))
