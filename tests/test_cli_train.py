"""`treenets train`, `evaluate` and `significance`: exit codes, outputs, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from treenets.cli import main


@pytest.fixture
def sick_config(tmp_path, data_mirror, tmp_path_factory):
    folder = data_mirror / "sick" / "semeval2014"
    config = {
        "task": "relatedness",
        "data": {"dataset": "sick",
                 "files": {"train": str(folder / "SICK_train.txt"), "dev": str(folder / "SICK_trial.txt"),
                           "test": str(folder / "SICK_test_annotated.txt")},
                 "limit": {"train": 200, "dev": 60, "test": 60}},
        "model": {"name": "gru", "hidden": 8, "head_hidden": 8},
        "embeddings": {"frozen": True, "cache_dir": str(tmp_path_factory.mktemp("embeddings"))},
        "training": {"epochs": 2, "device": "cpu"},
    }
    path = tmp_path / "sick.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_train_evaluate_significance(sick_config, tmp_path, capsys):
    code, out, _ = run(capsys, "train", "--config", str(sick_config), "--run-dir", str(tmp_path / "a"),
                       "--set", "training.epochs=1")
    assert code == 0 and json.loads(out)["epochs_run"] == 1
    assert (tmp_path / "a" / "training.json").exists()
    code, out, _ = run(capsys, "train", "--config", str(sick_config), "--run-dir", str(tmp_path / "b"),
                       "--set", "model.name=lstm")
    assert code == 0 and json.loads(out)["epochs_run"] == 2

    for name in ("a", "b"):
        code, out, _ = run(capsys, "evaluate", "--run-dir", str(tmp_path / name), "--split", "test")
        assert code == 0 and json.loads(out)["examples"] == 60
        assert json.loads((tmp_path / name / "metrics.json").read_text()) == json.loads(out)
    code, out, _ = run(capsys, "evaluate", "--run-dir", str(tmp_path / "a"), "--split", "dev")
    assert code == 0 and all((tmp_path / "a" / name).exists() for name in ("metrics-dev.json", "predictions-dev.tsv"))

    code, out, _ = run(capsys, "significance", str(tmp_path / "a" / "predictions.tsv"),
                       str(tmp_path / "b" / "predictions.tsv"), "--resamples", "300")
    report = json.loads(out)
    assert code == 0 and report["bootstrap"]["metric"] == "pearson" and report["bootstrap"]["n"] == 60
    assert 0 <= report["bootstrap"]["p_value"] <= 1 and 0 <= report["williams"]["p_value"] <= 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--config", "{config}", "--run-dir", "{tmp}/r", "--set", "model.hiden=3"],
         "sick.yaml: model.hiden: unknown key"),
        (["train", "--config", "{tmp}/absent.yaml", "--run-dir", "{tmp}/r"], "absent.yaml: cannot read config"),
        (["train", "--config", "{config}", "--run-dir", "{tmp}/r", "--set", "epochs"], "expected key.path=value"),
        (["evaluate", "--run-dir", "{tmp}"], "not a complete training run"),
        (["significance", "{tmp}/a.tsv", "{tmp}/b.tsv"], "a.tsv: cannot read predictions"),
    ],
)
def test_errors_are_one_line_and_exit_1(argv, message, sick_config, tmp_path, capsys):
    argv = [a.format(config=sick_config, tmp=tmp_path) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert err.startswith("treenets: error: ") and message in err and err.count("\n") == 1


def test_the_console_script_exits_nonzero_without_a_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "treenets.cli", "evaluate", "--run-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("treenets: error: ")
