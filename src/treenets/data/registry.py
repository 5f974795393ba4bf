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
# Tai et al.'s own SICK inputs, as stanfordnlp/treelstm's preprocessing wrote them (Stanford parser 3.5.1
# parses, GloVe 840B-300d rows of the SICK tokens), from a copy of its outputs pinned at one commit.
_TAI_SICK = "https://raw.githubusercontent.com/p3i0t/TreeLSTM/1e0962fe46c0f50f2c42e8aba0e139bf826b622d/data/sick"
# sick/treelstm/<role> -> sha256; role = <split>/<file> (a.txt, a.toks, ... as preprocess-sick.py names them)
_SICK_TREELSTM = {
    "dev/a.cparents": "6ef0412389d1eb3e2d7efca7bfbfd017537f5407d4195bcf51387b308fe8af19",
    "dev/a.parents": "2ca991af7081514100e10383cd2607f925912a8eceaa8cbae309ca6583ffc2b3",
    "dev/a.rels": "0aa7eb52a62776836c56e27211a9d8f51201200f08f644af7d8dc6e7bc672092",
    "dev/a.toks": "81a5f0b3798fc15e8a0476a977c3709b652c098fe103343a1a81ed656da7eef7",
    "dev/a.txt": "7866f939d4fc88628215f22068bf0e03e0f20f49a85687c99bf9a1fed94bf703",
    "dev/b.cparents": "5860ded3101146c1bc5cd47ac35cc6d151a4740c58002599246cf5bbbb275e70",
    "dev/b.parents": "ccde3959a9f675db299c570fef622da0d349b1702a9ef62295cc94b9d9cefc61",
    "dev/b.rels": "37b4b66d1df84675afd0dcee6f8756668b663c31f1a6138750019459141bfa8e",
    "dev/b.toks": "f8a2e86fea60c23b23de390e877aac33cd1b93ed7f8e1796078859743e981ad9",
    "dev/b.txt": "3a5222081a512a95f6f0ed23263a0c8ffb05260296629fb404a4b88ac09e2b35",
    "dev/id.txt": "72cb19ad1aa5fc4c9895604fa265a53b9fb69f72a7fefed1c1235267cfa11dcd",
    "dev/sim.txt": "0f265cdd3067712009360563c417b47b53dddbf5ac057445a9f18084dfd1b42f",
    "test/a.cparents": "646028defbc8fa153385483f7c8a12f8f3b58e92b3b155cf9b636a73fea8cc62",
    "test/a.parents": "0f5b422b11cf0be7f63a9a86e4f55800c29c45f212042a49e885c76a5c4f11bb",
    "test/a.rels": "29bc36be3d18c0ea435d02f025501c498ee3d16a377ec31ad918c2c1d5412891",
    "test/a.toks": "3c769f53f5dc63bce9397e8ee620d20f05ffa71ea8ac5f220f65d4d6e8bb5f28",
    "test/a.txt": "f0333d2c0dba1d3abea1ae7d17e0471e1a549b9e09eed3b2adf995a1bf02096d",
    "test/b.cparents": "5f6293d591dbfd678180fb99cd7f6b318fc71c597bdebba0db5351adece5a5b2",
    "test/b.parents": "d832dc70cb9d985be56dd17df9be895ed7f22c31671fb873f08ca19afbf48735",
    "test/b.rels": "3ff1a5554007e2fa16c9f672da0d40206ce21cf85109fefe71724560325a9d10",
    "test/b.toks": "e33957756776134c964c77c5d3fcf0c8c29b6220bc21375740182b76972ad4f3",
    "test/b.txt": "aed94272ec5866626ba02e009ca286a59ad3d53d449ad9a1364d49a27154ea0f",
    "test/id.txt": "c2bee2cc1915c83676aa86ef5cc1eda606b4532445854bb802ec1a96b28786c4",
    "test/sim.txt": "5de8340ee6b0d75a6e8238ba7da0b32f38931dd38aa8ae0a3bc8d3b3444589c1",
    "train/a.cparents": "88213579fbe59f1cab6b797d62baa2092f88ac81e711bb12bc0cf733e7a0485b",
    "train/a.parents": "dc72e316e442ee67a382dde5fb8935326ef6e055658af9093e2a8de1f7feca00",
    "train/a.rels": "bbc30393f4622ad6981afc38e7b380bb98f8d654345f3345e1e320d88bd47cbd",
    "train/a.toks": "b2b441a0c22188f2f5634b14dacd2330c16eff822ff1c6d03edda0a0eb73df68",
    "train/a.txt": "7c19c8b0aa3bbacfef8a9657f39e58704830c749becc5eceedf47b6a75d54a90",
    "train/b.cparents": "133372c67f5e90466b8d067f33e0f4a32bd5cc5a78e6a487d8c3c1316be3eb05",
    "train/b.parents": "4d7d28291081e92539fcc5143bb305565d38c901903814fc989b8a717992cd05",
    "train/b.rels": "22a64c583658cb547fe986747b8baf4890a4e61ff18cfd967259658659097d7b",
    "train/b.toks": "81d0bda6ee2f79bbdde2f149288784dfa6210d27d4a97f9c8c2e10583e523cd2",
    "train/b.txt": "cb85154eb2f2c913e634b60ac904e6d799ef87931cdaaad26acc4f6c7f754963",
    "train/id.txt": "d481958e387884984fd40305ad0a265b1d6c53aeff4cbb2502b7141eb821d5cd",
    "train/sim.txt": "0738b8a17effeaf36a9a4f82d0530f7ae0e549196db341d35bb6e86423977c6e",
}

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
            "sick-treelstm",
            "SICK as Tai et al. preprocessed it (stanfordnlp/treelstm format): raw sentences, PTB tokens, "
            "Stanford basic dependencies and binarized PCFG constituency trees per split (4500/500/4927 pairs)",
            "CC BY-NC-SA 3.0",
            {role: DataFile(f"sick/treelstm/{role}", f"{_TAI_SICK}/{role}", sha256)
             for role, sha256 in _SICK_TREELSTM.items()},
        ),
        Corpus(
            "glove-840b-300d-sick",
            "GloVe 840B-300d rows of the 2,408 SICK tokens (Tai et al.'s sick_embed.pth: a legacy torch.save "
            "of a 2412 x 300 tensor, 4 special rows, then sick.vocab's words)",
            "PDDL 1.0",
            {
                "vectors": DataFile("glove/840b-300d-sick/sick_embed.pth", f"{_TAI_SICK}/sick_embed.pth",
                                    "7d1204a40475230aa826a5f565ca8161bbf1220cfa914b1810ccc5eb2d53e74c"),
                "vocab": DataFile("glove/840b-300d-sick/sick.vocab", f"{_TAI_SICK}/sick.vocab",
                                  "f265901ea8d3abcfc494825ae637bf59ecfa9593e7987a4d6c83afb1f43fbf61"),
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
