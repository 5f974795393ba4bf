"""Labeled bracket F1 of constituency parses, in Python (no Java EVALB).

Scored as EVALB does with its standard COLLINS.prm settings: a bracket is (label, first word,
last word) of a phrase; preterminals (POS tags) and the root (ROOT/TOP) are not brackets; words
whose *gold* tag is punctuation are removed from both trees before spans are counted (a phrase of
punctuation only disappears); PRT counts as ADVP; brackets are matched as multisets and the
counts are summed over the corpus before precision and recall are taken (micro average).

Trees are anything with ``.label`` and ``.children`` (a leaf has no children), such as stanza's
``parse_tree.Tree``; :class:`PythonEvaluateParser` stands in for stanza's CoreNLP evaluator so
the constituency trainer's dev scoring needs no Java.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

PUNCTUATION_TAGS = frozenset({",", ":", "``", "''", "."})
ROOT_LABELS = frozenset({"ROOT", "TOP", ""})
EQUIVALENT_LABELS = {"PRT": "ADVP"}


@dataclass(frozen=True)
class BracketScore:
    matched: int
    gold: int
    predicted: int

    def __add__(self, other: "BracketScore") -> "BracketScore":
        return BracketScore(self.matched + other.matched, self.gold + other.gold, self.predicted + other.predicted)

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        total = self.gold + self.predicted
        return 2 * self.matched / total if total else 0.0


def preterminals(tree) -> list:
    """The POS nodes of ``tree`` (a node whose only child is a leaf), left to right."""
    found, stack = [], [tree]
    while stack:
        node = stack.pop()
        if len(node.children) == 1 and not node.children[0].children:
            found.append(node)
        else:
            stack.extend(reversed(node.children))
    return found


def labeled_brackets(tree, keep: list[bool]) -> Counter:
    """The multiset of (label, start, end) phrases of ``tree``; ``keep[i]`` says whether word ``i``
    counts (False for punctuation), and spans are measured in counted words only."""
    before = [0]  # before[i]: counted words among the first i words
    for counted in keep:
        before.append(before[-1] + counted)
    brackets: Counter = Counter()

    def visit(node, start: int) -> int:
        if len(node.children) == 1 and not node.children[0].children:
            return start + 1  # a preterminal: one word, no bracket
        end = start
        for child in node.children:
            end = visit(child, end)
        if node.label not in ROOT_LABELS and before[end] > before[start]:
            label = EQUIVALENT_LABELS.get(node.label, node.label)
            brackets[(label, before[start], before[end])] += 1
        return end

    words = visit(tree, 0)
    if words != len(keep):
        raise ValueError(f"the tree has {words} words, expected {len(keep)}")
    return brackets


def score_tree(gold, predicted) -> BracketScore:
    """Bracket counts of one predicted tree against its gold tree (same words, in order)."""
    gold_tags = preterminals(gold)
    predicted_words = [node.children[0].label for node in preterminals(predicted)]
    gold_words = [node.children[0].label for node in gold_tags]
    if predicted_words != gold_words:
        raise ValueError(f"the trees have different words: {gold_words[:8]} ... vs {predicted_words[:8]} ...")
    keep = [node.label not in PUNCTUATION_TAGS for node in gold_tags]
    gold_brackets, predicted_brackets = labeled_brackets(gold, keep), labeled_brackets(predicted, keep)
    matched = sum((gold_brackets & predicted_brackets).values())
    return BracketScore(matched, sum(gold_brackets.values()), sum(predicted_brackets.values()))


def corpus_score(pairs: Iterable[tuple]) -> BracketScore:
    """Summed counts over (gold, predicted) tree pairs."""
    total = BracketScore(0, 0, 0)
    for gold, predicted in pairs:
        total = total + score_tree(gold, predicted)
    return total


class PythonEvaluateParser:
    """Drop-in for ``stanza.server.parser_eval.EvaluateParser`` (which starts CoreNLP in Java).

    Used as a context manager; ``process(results)`` takes stanza's ``ParseResult`` list (gold tree
    and scored predictions) and answers an ``EvaluateParserResponse`` with the corpus F1.
    """

    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def process(self, results):
        from stanza.protobuf import EvaluateParserResponse

        score = corpus_score((result.gold, result.predictions[0].tree) for result in results)
        return EvaluateParserResponse(f1=score.f1)
