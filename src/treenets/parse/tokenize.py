"""Penn Treebank tokens for raw text, with no model to download.

SICK and SST were tokenized by the Stanford PTB tokenizer; with official Stanza models raw text goes
through Stanza's own tokenizer, but the bootstrap models have none, so their raw text is split here:
sentences by Punkt with a fixed list of abbreviations (NLTK's ``word_tokenize`` would need the
``punkt`` download for that), then each sentence by NLTK's ``NLTKWordTokenizer`` (the Treebank
tokenizer's rules: ``don't`` -> ``do n't``, ``John's`` -> ``John 's``, ``"`` -> `````` / ``''``,
``$5`` -> ``$ 5``; hyphenated words and numbers such as ``3.5`` stay whole). On SICK's raw sentences
it gives the tokens of Tai et al.'s ``.toks`` files (:func:`agreement`; docs/results/tokenize).

A row of a dataset stays one sentence for the parser: the tokens of all its sentences, in order.
"""

from __future__ import annotations

import functools

from treenets.errors import InputError
from treenets.parse.store import normalise

# Lower-cased, without the final period, as Punkt stores them: a period after one of these does
# not end a sentence.
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt vs etc e.g i.e cf al fig no vol approx dept est inc ltd co corp jan feb "
    "mar apr jun jul aug sep sept oct nov dec u.s u.k a.m p.m".split()
)


@functools.cache
def _tokenizers():
    from nltk.tokenize import NLTKWordTokenizer
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    parameters = PunktParameters()
    parameters.abbrev_types = set(ABBREVIATIONS)
    return PunktSentenceTokenizer(parameters), NLTKWordTokenizer()


def ptb_tokens(text: str) -> list[str]:
    """The Penn Treebank tokens of raw ``text`` (one or more sentences)."""
    sentences, words = _tokenizers()
    return [token for sentence in split_sentences(normalise(text), sentences) for token in words.tokenize(sentence)]


def split_sentences(text: str, punkt) -> list[str]:
    """Punkt's sentences, except that none ends in an abbreviation (Punkt splits ``7:30 p.m. already?!``
    after ``p.m.``, and the word tokenizer would then cut the abbreviation's period off)."""
    pieces: list[str] = []
    for piece in punkt.tokenize(text):
        if pieces and pieces[-1].rsplit(" ", 1)[-1].lower().rstrip(".") in ABBREVIATIONS:
            pieces[-1] += " " + piece
        else:
            pieces.append(piece)
    return pieces


def agreement(raw_path, toks_path) -> dict:
    """How many lines of a raw-text file :func:`ptb_tokens` splits exactly as the ``.toks`` file's
    line (Tai et al.'s SICK files: ``a.txt`` / ``a.toks``), and the first lines that differ."""
    from treenets.trees import read_lines

    raw, toks = read_lines(raw_path), read_lines(toks_path)
    if len(raw) != len(toks):
        raise InputError(f"{len(raw)} lines, but {len(toks)} in {toks_path}", raw_path)
    differ = [number for number, (text, tokens) in enumerate(zip(raw, toks), 1) if ptb_tokens(text) != tokens.split(" ")]
    return {"sentences": len(raw), "same": len(raw) - len(differ), "differ_at_lines": differ[:20]}


if __name__ == "__main__":  # python -m treenets.parse.tokenize FOLDER: every */x.txt against */x.toks below it
    import json
    import sys
    from pathlib import Path

    folder = Path(sys.argv[1])
    results = {str(raw.relative_to(folder)): agreement(raw, raw.with_suffix(".toks"))
               for raw in sorted(folder.glob("*/*.txt")) if raw.with_suffix(".toks").is_file()}
    total, same = sum(r["sentences"] for r in results.values()), sum(r["same"] for r in results.values())
    print(json.dumps({"files": results, "sentences": total, "same": same, "share": same / total}, indent=2))
