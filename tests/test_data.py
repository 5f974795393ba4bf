"""Corpora: registry checksums, fetching (mirror, file:// and http downloads), readers, pair specs."""

from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import http.server
import threading
import zipfile
from pathlib import Path

import nltk
import pytest

from treenets.config import from_dict
from treenets.data import CORPORA, PairDatasetSpec, fetch, read_conllu, read_pairs, read_sick, read_sst
from treenets.data.fetch import MIRROR_ENV
from treenets.errors import InputError

SST_ROOT_LABELS = {
    "train": [1092, 2218, 1624, 2322, 1288],
    "dev": [139, 289, 229, 279, 165],
    "test": [279, 633, 389, 510, 399],
}


@pytest.fixture(autouse=True)
def no_mirror_from_the_environment(monkeypatch):
    """Each test names its mirror; CI's TREENETS_DATA_MIRROR must not make downloads look local."""
    monkeypatch.delenv(MIRROR_ENV, raising=False)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- registry
def test_registry_checksums_are_those_of_the_verified_mirror(data_mirror):
    verified = dict(
        reversed(line.split(maxsplit=1)) for line in (data_mirror / "SHA256SUMS").read_text().splitlines()
    )
    pinned = [f for corpus in CORPORA.values() for f in corpus.files.values() if f.sha256]
    assert len(pinned) == 11 + 36 + 2  # + sick-treelstm's 36 files, glove-840b-300d-sick's 2
    for entry in pinned:
        assert verified[entry.path] == entry.sha256, entry.path
    unpinned = [f.path for corpus in CORPORA.values() for f in corpus.files.values() if not f.sha256]
    assert all(path.startswith("glove/") for path in unpinned)
    assert all(f.url.startswith("https://") for c in CORPORA.values() for f in c.files.values())


# --------------------------------------------------------------------------- fetch from the mirror
def test_fetch_copies_from_the_mirror_and_returns_the_folder(tmp_path, data_mirror):
    folder = fetch("sst", tmp_path / "raw", data_mirror)
    assert folder == tmp_path / "raw" / "sst"
    assert files_under(folder) == ["dev.txt", "test.txt", "train.txt"]
    for name in ("dev.txt", "test.txt", "train.txt"):
        assert (folder / name).read_bytes() == (data_mirror / "sst" / name).read_bytes()
    # A second fetch finds the verified copy in the cache, even without the mirror.
    assert fetch("sst:dev", tmp_path / "raw") == folder / "dev.txt"


def test_tai_et_al_sick_inputs_are_fetched_through_the_mirror(tmp_path, data_mirror, monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, str(data_mirror))
    folder = fetch("sick-treelstm", tmp_path)
    assert folder == tmp_path / "sick" / "treelstm"
    names = [f"{column}.{kind}" for column in "ab" for kind in ("cparents", "parents", "rels", "toks", "txt")]
    assert files_under(folder) == sorted(f"{split}/{name}" for split in ("dev", "test", "train")
                                         for name in [*names, "id.txt", "sim.txt"])
    assert len((folder / "test" / "a.toks").read_text().splitlines()) == 4927
    assert fetch("glove-840b-300d-sick", tmp_path) == tmp_path / "glove" / "840b-300d-sick"
    assert sha256(tmp_path / "glove" / "840b-300d-sick" / "sick_embed.pth") == (
        "7d1204a40475230aa826a5f565ca8161bbf1220cfa914b1810ccc5eb2d53e74c")
    url = CORPORA["sick-treelstm"].files["train/a.cparents"].url
    assert url == ("https://raw.githubusercontent.com/p3i0t/TreeLSTM/1e0962fe46c0f50f2c42e8aba0e139bf826b622d"
                   "/data/sick/train/a.cparents")


def test_fetch_finds_the_mirror_through_the_environment(tmp_path, data_mirror, monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, str(data_mirror))
    path = fetch("sick-full", tmp_path)  # one file: its path
    assert path == tmp_path / "sick" / "SICK.txt" and sha256(path) == CORPORA["sick-full"].files["all"].sha256


def test_a_mirror_copy_with_the_wrong_checksum_leaves_nothing(tmp_path, data_mirror):
    mirror = tmp_path / "mirror"
    (mirror / "sst").mkdir(parents=True)
    (mirror / "sst" / "dev.txt").write_bytes((data_mirror / "sst" / "dev.txt").read_bytes()[:-1])
    with pytest.raises(InputError) as caught:
        fetch("sst:dev", tmp_path / "raw", mirror)
    message = str(caught.value)
    assert message.startswith(f"{mirror / 'sst' / 'dev.txt'}: sha256 mismatch for sst/dev.txt")
    assert CORPORA["sst"].files["dev"].sha256 in message and sha256(mirror / "sst" / "dev.txt") in message
    assert files_under(tmp_path / "raw") == []


def test_a_tampered_cache_file_is_reported_not_used(tmp_path, data_mirror):
    path = fetch("sst:dev", tmp_path, data_mirror)
    path.write_text("(2 tampered)\n")
    with pytest.raises(InputError, match="cached file has sha256 .* expected .* delete it") as caught:
        fetch("sst:dev", tmp_path, data_mirror)
    assert str(caught.value).startswith(f"{path}: ")


def test_unknown_names_and_missing_mirror(tmp_path):
    with pytest.raises(InputError, match="unknown dataset 'nope'; known: sick, sick-full, sst"):
        fetch("nope", tmp_path)
    with pytest.raises(InputError, match="sst has no file 'validation'; it has: train, dev, test"):
        fetch("sst:validation", tmp_path)
    with pytest.raises(InputError, match="is not a folder"):
        fetch("sst", tmp_path, mirror=tmp_path / "absent")


# --------------------------------------------------------------------------- downloads (no network)
def sst_zip_corpus(data_mirror: Path, served: Path, tamper: bool = False):
    """The SST corpus with its URL pointing at a zip of the real files under ``served``."""
    archive = served / "trainDevTestTrees_PTB.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for split in ("train", "dev", "test"):
            data = (data_mirror / "sst" / f"{split}.txt").read_bytes()
            zipped.writestr(f"trees/{split}.txt", data + (b"(2 x)\n" if tamper and split == "test" else b""))
    files = {role: dataclasses.replace(f, url=archive.as_uri()) for role, f in CORPORA["sst"].files.items()}
    return dataclasses.replace(CORPORA["sst"], files=files)


def test_download_extracts_and_verifies_archive_members(tmp_path, data_mirror):
    (tmp_path / "served").mkdir()
    corpus = sst_zip_corpus(data_mirror, tmp_path / "served")
    folder = fetch(corpus, tmp_path / "raw")
    assert files_under(tmp_path / "raw") == ["sst/dev.txt", "sst/test.txt", "sst/train.txt"]
    for role, entry in corpus.files.items():
        assert sha256(tmp_path / "raw" / entry.path) == entry.sha256
    assert len(read_sst(folder / "dev.txt")) == 1101


def test_a_downloaded_member_with_the_wrong_checksum_leaves_nothing(tmp_path, data_mirror):
    (tmp_path / "served").mkdir()
    corpus = sst_zip_corpus(data_mirror, tmp_path / "served", tamper=True)
    single = dataclasses.replace(corpus, files={"test": corpus.files["test"]})
    with pytest.raises(InputError, match=r"trainDevTestTrees_PTB.zip!trees/test.txt: sha256 mismatch "
                                         r"for sst/test.txt: expected 6e54806d\w+, got \w{64}"):
        fetch(single, tmp_path / "raw")
    assert files_under(tmp_path / "raw") == []


def test_download_over_http_from_loopback(tmp_path, data_mirror):
    served = tmp_path / "served"
    served.mkdir()
    lines = CORPORA["ud-english-lines"]
    (served / "dev.conllu").write_bytes((data_mirror / lines.files["dev"].path).read_bytes())
    handler = functools.partial(QuietHandler, directory=str(served))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            base = f"http://127.0.0.1:{server.server_address[1]}"
            corpus = dataclasses.replace(lines, files={
                "dev": dataclasses.replace(lines.files["dev"], url=f"{base}/dev.conllu"),
                "test": dataclasses.replace(lines.files["test"], url=f"{base}/missing.conllu"),
            })
            path = fetch(dataclasses.replace(corpus, files={"dev": corpus.files["dev"]}), tmp_path)
            assert sha256(path) == lines.files["dev"].sha256
            with pytest.raises(InputError, match=r"cannot download http://127.0.0.1:\d+/missing.conllu: "):
                fetch(corpus, tmp_path / "other")
        finally:
            server.shutdown()
            thread.join(timeout=10)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_an_unpinned_file_is_checked_against_its_first_download(tmp_path, data_mirror):
    source = data_mirror / "sst" / "dev.txt"
    entry = dataclasses.replace(CORPORA["glove-6b"].files["50d"], url=source.as_uri(), member=None)
    corpus = dataclasses.replace(CORPORA["glove-6b"], files={"50d": entry})
    path = fetch(corpus, tmp_path)
    recorded = path.with_name(path.name + ".sha256")
    assert recorded.read_text() == f"{sha256(source)}  glove.6B.50d.txt\n"
    path.write_bytes(b"changed")
    with pytest.raises(InputError, match=f"expected {sha256(source)}"):
        fetch(corpus, tmp_path)


# --------------------------------------------------------------------------- readers on the real files
def test_sst_split_sizes_and_root_label_counts(data_mirror):
    for split, expected in SST_ROOT_LABELS.items():
        trees = read_sst(data_mirror / "sst" / f"{split}.txt")
        counts = collections.Counter(tree.labels[tree.root] for tree in trees)
        assert [counts[label] for label in range(5)] == expected
        assert len(trees) == sum(expected)


def test_read_sst_limit_reads_the_first_trees_only(data_mirror, tmp_path):
    path = tmp_path / "dev.txt"
    lines = (data_mirror / "sst" / "dev.txt").read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:3] + ["(2 truncated"]) + "\n", encoding="utf-8")
    assert [tree.to_ptb() for tree in read_sst(path, limit=3)] == lines[:3]  # line 4 is never parsed
    with pytest.raises(InputError, match=":4: malformed"):
        read_sst(path)


def test_sick_semeval_split_files(data_mirror):
    folder = data_mirror / "sick" / "semeval2014"
    sizes = {name: read_sick(folder / f"SICK_{name}.txt") for name in ("train", "trial", "test_annotated")}
    assert {name: len(pairs) for name, pairs in sizes.items()} == {"train": 4500, "trial": 500, "test_annotated": 4927}
    test = sizes["test_annotated"]  # CRLF as distributed
    assert not any("\r" in p.a or "\r" in p.b for p in test)
    everything = [p for pairs in sizes.values() for p in pairs]
    assert len({p.id for p in everything}) == 9927
    assert min(p.score for p in everything) == 1.0 and max(p.score for p in everything) == 5.0
    first = sizes["train"][0]
    assert (first.id, first.score) == ("1", 4.5)
    assert first.b == "A group of boys in a yard is playing and a man is standing in the background"


def test_full_sick_release_and_its_semeval_set_column(data_mirror):
    path = data_mirror / "sick" / "SICK.txt"
    everything = read_sick(path)
    assert len(everything) == 9840
    assert [len(read_sick(path, split)) for split in ("train", "dev", "test")] == [4439, 495, 4906]
    last = everything[-1]  # the line with no final newline, CR stripped
    assert last.b == "The woman with a knife is slicing a pepper" and last.score == 1.0
    # Literal quotes (in its *_original columns) stay text: no CSV quote processing by default.
    originals = {"sentence_a": "sentence_A_original", "sentence_b": "sentence_B_original", "score": "relatedness_score",
                 "id": "pair_ID", "score_range": [1, 5]}
    spec = from_dict(PairDatasetSpec, {"files": {"all": str(path)}, **originals})
    by_id = {p.id: p for p in read_pairs(spec, "all")}
    assert by_id["344"].a == 'Asian woman in crowd, carrying black bag with "pain" and spiked knuckle graphic.'
    assert '""""pain""""' in by_id["343"].b
    # Agreement with the SemEval files: same sentences and score for the same id.
    trial = {p.id: p for p in read_sick(data_mirror / "sick" / "semeval2014" / "SICK_trial.txt")}
    for pair in read_sick(path, "dev"):
        assert trial[pair.id] == pair


@pytest.mark.parametrize(
    "row, problem",
    [
        ("2\tA dog runs\tA dog is running\t5.2\tNEUTRAL", "score 5.2 is outside \\[1, 5\\]"),
        ("2\tA dog runs", "sentence B \\(column 2\\) is missing"),
        ("2\t\tA dog is running\t3.0\tNEUTRAL", "sentence A is empty"),
    ],
)
def test_bad_sick_rows_name_file_and_line(tmp_path, data_mirror, row, problem):
    header, first = (data_mirror / "sick" / "semeval2014" / "SICK_trial.txt").read_text().splitlines()[:2]
    path = tmp_path / "SICK_bad.txt"
    path.write_bytes(f"{header}\r\n{first}\r\n{row}".encode())  # CRLF, no final newline
    with pytest.raises(InputError, match=problem) as caught:
        read_sick(path)
    assert str(caught.value).startswith(f"{path}:3: ")


def test_sick_split_needs_the_semeval_set_column(data_mirror):
    path = data_mirror / "sick" / "semeval2014" / "SICK_trial.txt"
    with pytest.raises(InputError, match="no column 'SemEval_set'"):
        read_sick(path, "dev")
    with pytest.raises(InputError, match="must be one of train, dev, test"):
        read_sick(path, "trial")


def test_ud_english_lines(data_mirror):
    folder = data_mirror / "ud" / "UD_English-LinES"
    expected = {"train": (3457, 64684), "dev": (1118, 21637), "test": (1121, 19984)}
    for split, (sentences, words) in expected.items():
        trees = read_conllu(folder / f"en_lines-ud-{split}.conllu")
        assert (len(trees), sum(t.num_tokens for t in trees)) == (sentences, words)
        assert all(t.deprels[t.root] == "root" for t in trees)


def test_penn_treebank_sample_reads_with_nltk(tmp_path, data_mirror, monkeypatch):
    zip_path = fetch("ptb-sample", tmp_path, data_mirror)
    nltk_data = tmp_path / "ptb_sample" / "nltk_data"
    assert zip_path == nltk_data / "corpora" / "treebank.zip"
    monkeypatch.setattr(nltk.data, "path", [str(nltk_data)])
    from nltk.corpus.reader import BracketParseCorpusReader
    from nltk.data import ZipFilePathPointer

    reader = BracketParseCorpusReader(ZipFilePathPointer(str(zip_path), "treebank/combined/"), r"wsj_.*\.mrg")
    assert len(reader.fileids()) == 199
    assert len(reader.parsed_sents()) == 3914


# --------------------------------------------------------------------------- pair datasets by config
def sts_spec(fixtures_dir, **overrides):
    config = {
        "files": {"test": str(fixtures_dir / "sts_pairs.tsv")},
        "sentence_a": "sentence1", "sentence_b": "sentence2", "score": "score", "id": "sid",
        "score_range": [0, 5],
    }
    return from_dict(PairDatasetSpec, {**config, **overrides}, "data.pairs")


def test_pair_dataset_defined_by_config_with_column_names(fixtures_dir):
    pairs = read_pairs(sts_spec(fixtures_dir), "test")
    assert [(p.id, p.score) for p in pairs] == [("0001", 5.0), ("0004", 3.8), ("0012", 0.0), ("0020", 2.4)]
    assert pairs[2].a == 'He said "no comment" and left.'  # quotes are text unless quoting is on
    assert pairs[3].a == "I think it's fine."


def test_pair_dataset_with_column_indices_and_row_numbers_as_ids(fixtures_dir):
    spec = sts_spec(fixtures_dir, sentence_a=5, sentence_b=6, score=4, id=None)
    pairs = read_pairs(spec, "test")
    assert [p.id for p in pairs] == ["1", "2", "3", "4"]
    assert pairs[0].b == "An air plane is taking off."


def test_quoted_csv_with_a_split_column_and_relative_paths(fixtures_dir):
    spec = from_dict(PairDatasetSpec, {
        "files": {"train": "pairs_quoted.csv", "test": "pairs_quoted.csv"},
        "delimiter": ",", "quoting": True, "sentence_a": "first", "sentence_b": "second",
        "score": "similarity", "id": "id", "score_range": [0.0, 1.0], "split_column": "part",
    })
    train = read_pairs(spec, "train", root=fixtures_dir)
    assert [(p.id, p.a) for p in train] == [("q1", "Hello, world"), ("q2", 'She said "yes"')]
    assert [p.id for p in read_pairs(spec, "test", root=fixtures_dir)] == ["q3"]
    with pytest.raises(InputError, match="no split 'dev'"):
        read_pairs(spec, "dev", root=fixtures_dir)


@pytest.mark.parametrize(
    "config, problem",
    [
        ({"header": False}, "sentence_a: column 'sentence1' is a name, but header is false"),
        ({"score_range": [5, 0]}, "score_range: must be \\[lo, hi\\]"),
        ({"delimiter": "::"}, "delimiter: must be one character"),
        ({"sentence_a": -1}, "sentence_a: column index must be >= 0"),
        ({"separator": ","}, "data.pairs.separator: unknown key"),
        ({"split_values": {"dev": "DEV"}}, "split_values: 'dev' is not a split"),
    ],
)
def test_bad_pair_specs_name_the_key(fixtures_dir, config, problem):
    with pytest.raises(InputError, match=problem):
        sts_spec(fixtures_dir, **config)


STS_HEADER = "genre\tfile\tyear\tsid\tscore\tsentence1\tsentence2\n"
GOOD_ROW = "g\tf\t2012\t1\t4.0\tA man sings.\tA man is singing.\n"


@pytest.mark.parametrize(
    "row, problem",
    [
        ("g\tf\t2012\t2\t4.0\tA man sings.\n", "sentence B \\(column 6\\) is missing: the row has 6 fields"),
        ("g\tf\t2012\t2\t5.5\tA man sings.\tA man is singing.\n", "score 5.5 is outside \\[0, 5\\]"),
        ("g\tf\t2012\t2\tnan\tA man sings.\tA man is singing.\n", "score nan is outside"),
        ("g\tf\t2012\t2\tfour\tA man sings.\tA man is singing.\n", "score 'four' is not a number"),
        ("g\tf\t2012\t2\t4.0\t  \tA man is singing.\n", "sentence A is empty"),
        ("g\tf\t2012\t1\t4.0\tA man sings.\tA man is singing.\n", "pair id '1' repeats the one on line 2"),
    ],
)
def test_bad_pair_rows_name_file_and_line(tmp_path, fixtures_dir, row, problem):
    path = tmp_path / "bad.tsv"
    path.write_text(STS_HEADER + GOOD_ROW + row, encoding="utf-8")
    spec = sts_spec(fixtures_dir, files={"test": str(path)})
    with pytest.raises(InputError, match=problem) as caught:
        read_pairs(spec, "test")
    assert str(caught.value).startswith(f"{path}:3: ")


def test_non_utf8_pair_file_and_missing_header_column(tmp_path, fixtures_dir):
    path = tmp_path / "bad.tsv"
    path.write_bytes((STS_HEADER + GOOD_ROW).encode() + b"g\tf\t2012\t2\t1.0\tcaf\xe9\tA cafe.\n")
    with pytest.raises(InputError, match="not UTF-8: byte 0xe9") as caught:
        read_pairs(sts_spec(fixtures_dir, files={"test": str(path)}), "test")
    assert str(caught.value).startswith(f"{path}:3: ")
    with pytest.raises(InputError, match="no column 'similarity' for the score in the header") as caught:
        read_pairs(sts_spec(fixtures_dir, score="similarity"), "test")
    assert ":1: " in str(caught.value)
    with pytest.raises(InputError, match="cannot read"):
        read_pairs(sts_spec(fixtures_dir, files={"test": str(tmp_path / "absent.tsv")}), "test")


def test_sick_entailment_labels_from_both_file_layouts(data_mirror):
    """SICK.txt names the column entailment_label, the SemEval files entailment_judgment: same labels."""
    full = {p.id: p.label for p in read_sick(data_mirror / "sick" / "SICK.txt", "dev", labels=True)}
    trial = read_sick(data_mirror / "sick" / "semeval2014" / "SICK_trial.txt", labels=True)
    assert {p.id: p.label for p in trial if p.id in full} == full and len(full) == 495
    assert {p.label for p in trial} == {"ENTAILMENT", "NEUTRAL", "CONTRADICTION"}
    assert (trial[0].id, trial[0].label) == ("4", "CONTRADICTION")
    assert read_sick(data_mirror / "sick" / "semeval2014" / "SICK_trial.txt")[0].label is None  # not asked for
