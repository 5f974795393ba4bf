"""Model folders: every missing file is one clear line naming it and the command that provides it."""

import shutil

import pytest

from treenets.cli import main
from treenets.errors import InputError
from treenets.parse.models_dir import BOOTSTRAP_FILES, BOOTSTRAP_MARKER, layout, model_paths, pipeline_options
from treenets.parse.stanza_run import build_pipeline


def bootstrap_folder(path, missing=()):
    """A bootstrap-layout folder whose files exist (empty) except ``missing``."""
    path.mkdir()
    (path / BOOTSTRAP_MARKER).write_text("{}")
    for name in set(BOOTSTRAP_FILES.values()) - set(missing):
        (path / name).write_bytes(b"")
    return path


def official_folder(path, fixtures_dir, present=()):
    path.mkdir()
    shutil.copy(fixtures_dir / "parse" / "official_resources.json", path / "resources.json")
    for relative in present:
        (path / relative).parent.mkdir(parents=True, exist_ok=True)
        (path / relative).write_bytes(b"")
    return path


def test_bootstrap_folder_missing_depparse_is_named_before_stanza_runs(tmp_path):
    folder = bootstrap_folder(tmp_path / "models", missing=["depparse.pt"])
    with pytest.raises(InputError) as err:
        build_pipeline(folder)  # stanza itself would fail with KeyError: 'en'
    message = str(err.value)
    assert f"missing depparse model file {folder / 'depparse.pt'}" in message
    assert f"treenets parser-models bootstrap --out {folder}" in message and "\n" not in message


def test_complete_bootstrap_folder_gives_every_path(tmp_path):
    folder = bootstrap_folder(tmp_path / "models")
    options = pipeline_options(folder)
    assert options["depparse_pretagged"] is True and "lemma" not in options["processors"]
    assert options["constituency_pretrain_path"] == str(folder / "pretrain.pt")
    assert model_paths(folder, pretokenized=False) == model_paths(folder)  # raw text: no tokenizer model


def test_official_folder_resolved_like_stanza(tmp_path, fixtures_dir):
    charlm = "en/forward_charlm/1billion.pt"
    folder = official_folder(tmp_path / "models", fixtures_dir,
                             ["en/pos/combined_charlm.pt", "en/pretrain/conll17.pt"])
    assert layout(folder) == "official"
    with pytest.raises(InputError) as err:
        model_paths(folder)
    assert f"missing pos forward charlm file {folder / charlm}" in str(err.value)
    assert f"treenets parser-models download --dir {folder}" in str(err.value)

    for relative in ("lemma/combined_nocharlm.pt", "depparse/combined_charlm.pt",
                     "constituency/ptb3-revised_charlm.pt", "forward_charlm/1billion.pt",
                     "backward_charlm/1billion.pt"):
        (folder / "en" / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / "en" / relative).write_bytes(b"")
    paths = model_paths(folder)  # pretokenized: no tokenizer model needed
    assert paths["depparse_model_path"] == str(folder / "en/depparse/combined_charlm.pt")
    assert "tokenize_model_path" not in paths
    with pytest.raises(InputError, match="missing tokenize model file .*en/tokenize/combined.pt"):
        model_paths(folder, pretokenized=False)


def test_not_a_models_folder(tmp_path):
    with pytest.raises(InputError, match="no stanza models folder here"):
        layout(tmp_path / "absent")
    (tmp_path / "resources.json").write_text("{}")  # empty resources without the bootstrap marker
    with pytest.raises(InputError, match="not a stanza models folder"):
        layout(tmp_path)


def test_cli_check_prints_one_line_error(tmp_path, capsys):
    folder = bootstrap_folder(tmp_path / "models", missing=["pretrain.pt"])
    assert main(["parser-models", "check", "--dir", str(folder)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("treenets: error: missing pos pretrain file")
    (folder / "pretrain.pt").write_bytes(b"")
    assert main(["parser-models", "check", "--dir", str(folder)]) == 0
    assert f"depparse_model_path: {folder / 'depparse.pt'}" in capsys.readouterr().out
