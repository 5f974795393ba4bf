"""The PTB tokenizer for raw text (bootstrap parsers): hand-written PTB tokens, and SICK's own."""

from __future__ import annotations

import pytest

from treenets.parse.tokenize import agreement, ptb_tokens


@pytest.mark.parametrize("text, tokens", [
    ("I don't think John's car is red.", "I do n't think John 's car is red ."),
    ("They can't, won't and shouldn't go.", "They ca n't , wo n't and should n't go ."),
    ("We'll see what you're doing, I'm sure.", "We 'll see what you 're doing , I 'm sure ."),
    ('She said "no comment" and left.', "She said `` no comment '' and left ."),
    ("A man (wearing a hat) is singing.", "A man ( wearing a hat ) is singing ."),
    ("A well-known actor is playing a five-string guitar", "A well-known actor is playing a five-string guitar"),
    ("It costs $5, or 3.5% more: 1,000 people paid.", "It costs $ 5 , or 3.5 % more : 1,000 people paid ."),
    ("Is it 7:30 p.m. already?! Yes...", "Is it 7:30 p.m. already ? ! Yes ..."),
    ("Mr. Smith left. He said hi to Dr. Jones; then the U.S. team won.",
     "Mr. Smith left . He said hi to Dr. Jones ; then the U.S. team won ."),
    ("The boys' dog isn't  barking\tloudly", "The boys ' dog is n't barking loudly"),
])
def test_raw_sentences_get_penn_treebank_tokens(text, tokens):
    assert ptb_tokens(text) == tokens.split(" ")


def test_sick_raw_sentences_give_the_papers_tokens(data_mirror):
    """SICK's raw sentences against Tai et al.'s PTB tokens (.toks), on its trial split (1000 sentences);
    the whole corpus: docs/results/tokenize/sick_ptb_tokens.json."""
    folder = data_mirror / "sick" / "treelstm" / "dev"
    for column in ("a", "b"):
        result = agreement(folder / f"{column}.txt", folder / f"{column}.toks")
        assert result["sentences"] == 500
        assert result["same"] / result["sentences"] >= 0.99, result["differ_at_lines"]
