"""The corpora treenets knows: where each file comes from and its sha256.

Paths are relative to a data root laid out like ``../shared/data`` (the mirror) and like the
download cache (``data/raw``), so one relative path names a file in both. A file inside an archive
is downloaded as the archive and extracted; its checksum is the extracted file's.

Checksums are those of the copies verified in ``../shared/data`` (see its README for how each was
cross-checked). GloVe's were not available offline when this was written: ``sha256=None`` makes
:func:`treenets.data.fetch.fetch` record the first download's checksum and verify against it after.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from treenets.errors import InputError


@dataclass(frozen=True)
class DataFile:
    path: str  # relative to the data root (mirror or cache)
    url: str  # the file itself, or the zip archive that holds it (then `member` names it)
    sha256: str | None  # of the file itself (the extracted member for an archive)
    member: str | None = None


@dataclass(frozen=True)
class Corpus:
    name: str
    description: str
    license: str
    files: dict[str, DataFile]  # role (train/dev/test, 50d, ...) -> file

    @property
    def folder(self) -> str:
        """The deepest folder that holds all of the corpus's files (relative to the data root)."""
        return os.path.commonpath([os.path.dirname(f.path) for f in self.files.values()])


_SEMEVAL_ZIPS = "https://alt.qcri.org/semeval2014/task1/data/uploads"
_SST_ZIP = "https://nlp.stanford.edu/sentiment/trainDevTestTrees_PTB.zip"
_LINES = "https://raw.githubusercontent.com/UniversalDependencies/UD_English-LinES/r2.17"
_GLOVE_6B_ZIP = "https://nlp.stanford.edu/data/glove.6B.zip"

CORPORA: dict[str, Corpus] = {
    corpus.name: corpus
    for corpus in [
        Corpus(
            "sick",
            "SICK, SemEval-2014 Task 1 split files: train 4500, trial (dev) 500, test 4927 pairs",
            "CC BY-NC-SA 3.0",
            {
                "train": DataFile(
                    "sick/semeval2014/SICK_train.txt", f"{_SEMEVAL_ZIPS}/sick_train.zip",
                    "266cf8047149bd1d68138dd30439f3122bff30069740ac6705bb6197d9f1b48e", "SICK_train.txt"),
                "dev": DataFile(
                    "sick/semeval2014/SICK_trial.txt", f"{_SEMEVAL_ZIPS}/sick_trial.zip",
                    "5a88cfb62f8c6bd2a3cce0f2421ba2cb8c2be5ab4a800f6f01e2c64aafb7db56", "SICK_trial.txt"),
                "test": DataFile(
                    "sick/semeval2014/SICK_test_annotated.txt", f"{_SEMEVAL_ZIPS}/sick_test_annotated.zip",
                    "2b8aa806658d6fc23c6824c83776c2d4fee7556000817b5ec0f982861413b7d0",
                    "SICK_test_annotated.txt"),
            },
        ),
        Corpus(
            "sick-full",
            "SICK full release SICK.txt: 9840 pairs, SemEval_set column (TRAIN/TRIAL/TEST)",
            "CC BY-NC-SA 3.0",
            {
                "all": DataFile(
                    "sick/SICK.txt", "https://zenodo.org/record/2787612/files/SICK.zip",
                    "1539c2d059809b5bd40694e26d8121cc85b6b496f91c7b40f2fc83bbd7dcd957", "SICK.txt"),
            },
        ),
        Corpus(
            "sst",
            "Stanford Sentiment Treebank, PTB trees with a label at every node: 8544/1101/2210",
            "none stated (cite Socher et al. 2013)",
            {
                "train": DataFile("sst/train.txt", _SST_ZIP,
                                  "e2f3f41b0b1e6d4dddc0effe3bfc2d27ed8928079aa9a03d652311614fc5feb7",
                                  "trees/train.txt"),
                "dev": DataFile("sst/dev.txt", _SST_ZIP,
                                "0e9336aed6e4730e19f58d00a77b3f0297efdb755f7b5e598c98a05e3f97ea40",
                                "trees/dev.txt"),
                "test": DataFile("sst/test.txt", _SST_ZIP,
                                 "6e54806dee95cf80cd918e7dfb3f6770f6df24bf826f289a4d1f709e1c8f6761",
                                 "trees/test.txt"),
            },
        ),
        Corpus(
            "ud-english-lines",
            "UD English LinES r2.17 (CoNLL-U): 3457/1118/1121 sentences",
            "CC BY-NC-SA 4.0",
            {
                "train": DataFile("ud/UD_English-LinES/en_lines-ud-train.conllu",
                                  f"{_LINES}/en_lines-ud-train.conllu",
                                  "27609ded288bf3704def21f18d227e3f40957b4981174411f6bed34acf3025b6"),
                "dev": DataFile("ud/UD_English-LinES/en_lines-ud-dev.conllu",
                                f"{_LINES}/en_lines-ud-dev.conllu",
                                "3aabd1f843517fb615c8760c316a76125af2fff01c59b9a4049fe7c393891d2b"),
                "test": DataFile("ud/UD_English-LinES/en_lines-ud-test.conllu",
                                 f"{_LINES}/en_lines-ud-test.conllu",
                                 "14c56b50da6d8876ce1fdaa9b19c2845dfff73ff57766ddc2f812d88612ce3a8"),
            },
        ),
        Corpus(
            "ptb-sample",
            "NLTK's 10% WSJ Penn Treebank sample (treebank.zip, an NLTK data dir): 3914 trees",
            "LDC, non-commercial use only (NLTK data index)",
            {
                "treebank": DataFile(
                    "ptb_sample/nltk_data/corpora/treebank.zip",
                    "https://raw.githubusercontent.com/nltk/nltk_data/gh-pages/packages/corpora/treebank.zip",
                    "9da92d76c3666cfb6cddeaed0f7e86b344cce0f0928a286d439e555f19c37399"),
            },
        ),
        Corpus(
            "glove-840b-300d",
            "GloVe Common Crawl 840B tokens, 2.2M cased words, 300d (5.6 GB text)",
            "PDDL 1.0",
            {
                "300d": DataFile("glove/glove.840B.300d.txt", "https://nlp.stanford.edu/data/glove.840B.300d.zip",
                                 None, "glove.840B.300d.txt"),
            },
        ),
        Corpus(
            "glove-6b",
            "GloVe Wikipedia+Gigaword 6B tokens, 400k lowercased words, 50/100/200/300d",
            "PDDL 1.0",
            {
                f"{dim}d": DataFile(f"glove/glove.6B.{dim}d.txt", _GLOVE_6B_ZIP, None, f"glove.6B.{dim}d.txt")
                for dim in (50, 100, 200, 300)
            },
        ),
    ]
}


def lookup(name: str) -> tuple[Corpus, list[str]]:
    """``corpus`` (all its files) or ``corpus:role`` (one file) -> the corpus and the roles asked for."""
    corpus_name, _, role = name.partition(":")
    corpus = CORPORA.get(corpus_name)
    if corpus is None:
        raise InputError(f"unknown dataset {corpus_name!r}; known: {', '.join(CORPORA)}")
    if not role:
        return corpus, list(corpus.files)
    if role not in corpus.files:
        raise InputError(f"{corpus_name} has no file {role!r}; it has: {', '.join(corpus.files)}")
    return corpus, [role]
