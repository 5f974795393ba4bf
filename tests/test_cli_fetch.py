"""`treenets fetch`: prints the path on success, one error line and exit 1 otherwise."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from treenets.cli import main
from treenets.data.fetch import MIRROR_ENV


@pytest.fixture(autouse=True)
def no_mirror_from_the_environment(monkeypatch):
    monkeypatch.delenv(MIRROR_ENV, raising=False)


def test_fetch_prints_the_path(tmp_path, data_mirror, capsys):
    assert main(["fetch", "sick:dev", "--cache", str(tmp_path), "--mirror", str(data_mirror)]) == 0
    out = capsys.readouterr().out
    path = tmp_path / "sick" / "semeval2014" / "SICK_trial.txt"
    assert out == f"{path}\n"
    assert path.read_bytes() == (data_mirror / "sick" / "semeval2014" / "SICK_trial.txt").read_bytes()


def test_fetch_reads_the_mirror_from_the_environment(tmp_path, data_mirror, capsys, monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, str(data_mirror))
    assert main(["fetch", "ud-english-lines", "--cache", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'ud' / 'UD_English-LinES'}\n"


def test_unknown_name_is_one_line_and_exit_1(tmp_path, capsys):
    assert main(["fetch", "imdb", "--cache", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "treenets: error: unknown dataset 'imdb'; known: sick, sick-full, sst, ud-english-lines, "
        "ptb-sample, glove-840b-300d, sick-treelstm, glove-840b-300d-sick, glove-6b"
    ]


def test_checksum_mismatch_as_a_process(tmp_path, data_mirror):
    mirror = tmp_path / "mirror"
    (mirror / "sst").mkdir(parents=True)
    corrupt = (data_mirror / "sst" / "test.txt").read_bytes().replace(b"(4 ", b"(3 ", 1)
    (mirror / "sst" / "test.txt").write_bytes(corrupt)
    cache = tmp_path / "raw"
    result = subprocess.run(
        [sys.executable, "-m", "treenets.cli", "fetch", "sst:test", "--cache", str(cache), "--mirror", str(mirror)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"treenets: error: {mirror / 'sst' / 'test.txt'}: sha256 mismatch for sst/test.txt")
    assert hashlib.sha256(corrupt).hexdigest() in line and "6e54806dee95cf80" in line
    assert not cache.exists() or not any(p.is_file() for p in cache.rglob("*"))
