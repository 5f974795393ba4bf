"""Labeled bracket F1 (the Python stand-in for EVALB), checked on hand-scored trees."""

import pytest

from treenets.parse.bracket_f1 import PythonEvaluateParser, corpus_score, score_tree

tree_reader = pytest.importorskip("stanza.models.constituency.tree_reader")


def tree(text):
    return tree_reader.read_trees(text, use_tqdm=False)[0]


GOLD = "(ROOT (S (NP (DT The) (NN cat)) (VP (VBD sat) (PP (IN on) (NP (DT the) (NN mat)))) (. .)))"
# The PP closes too early: PP(3,4) instead of PP(3,6); S, NP, VP and NP(the mat) match.
WRONG_PP = "(ROOT (S (NP (DT The) (NN cat)) (VP (VBD sat) (PP (IN on)) (NP (DT the) (NN mat))) (. .)))"


def test_hand_scored_pair():
    score = score_tree(tree(GOLD), tree(WRONG_PP))
    assert (score.matched, score.gold, score.predicted) == (4, 5, 5)
    assert score.f1 == pytest.approx(0.8)
    assert score_tree(tree(GOLD), tree(GOLD)).f1 == 1.0


def test_punctuation_root_and_prt_as_evalb():
    # Attaching the final period elsewhere changes no bracket (punctuation is not counted) ...
    moved_period = "(ROOT (S (NP (DT The) (NN cat)) (VP (VBD sat) (PP (IN on) (NP (DT the) (NN mat)) (. .)))))"
    assert score_tree(tree(GOLD), tree(moved_period)).f1 == 1.0
    # ... PRT and ADVP are one label, and a phrase of punctuation alone is no bracket.
    gold = tree("(ROOT (S (NP (PRP He)) (VP (VBD gave) (PRT (RP up))) (FRAG (, ,)) (. .)))")
    predicted = tree("(ROOT (S (NP (PRP He)) (VP (VBD gave) (ADVP (RP up))) (FRAG (, ,)) (. .)))")
    score = score_tree(gold, predicted)
    assert (score.matched, score.gold) == (4, 4)  # S, NP, VP, PRT=ADVP; no ROOT, no FRAG


def test_corpus_score_is_micro_averaged():
    total = corpus_score([(tree(GOLD), tree(WRONG_PP)), (tree(GOLD), tree(GOLD))])
    assert (total.matched, total.gold, total.predicted) == (9, 10, 10)


def test_different_words_are_an_error():
    with pytest.raises(ValueError, match="different words"):
        score_tree(tree(GOLD), tree(GOLD.replace("mat", "rug")))


def test_stands_in_for_stanzas_java_evaluator():
    from stanza.server.parser_eval import ParseResult, ScoredTree

    results = [ParseResult(tree(GOLD), [ScoredTree(tree(WRONG_PP), 0.0)], None, None)]
    with PythonEvaluateParser(kbest=None) as evaluator:
        response = evaluator.process(results)
    assert response.f1 == pytest.approx(0.8) and not response.HasField("kbestF1")
