"""From a config's data section to examples: trees or token sequences with their targets.

An :class:`Example` holds what a model reads (``inputs``: one tree or token tuple per sentence, two
for a sentence pair) and what it is trained towards (``target``). The readers here build them; the
task (:mod:`treenets.tasks`) decides which reader and which target:

* sentence pairs (:func:`pair_dataset`; SICK, a generic pair dataset): ``(left, right)`` and what the
  task's ``target(pair)`` takes from the pair (the relatedness score, the entailment label's index);
* SST with a tree model (:func:`sst_dataset`): ``(tree,)`` and the 5-class label of every node (-1: none);
* SST with a sequence model: ``(words,)`` and the sentence's 5-class label. With
  ``train_on_phrases`` every other SST phrase becomes one more training example of its own.

Labels stay 5-class here (prediction files always show them); a two-class model is trained on
:func:`treenets.evaluate.binary_gold` of them. Only SST's PTB brackets need nltk (imported when
read); SICK and generic pair files, parse stores and GloVe text files need neither nltk nor stanza.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from treenets.config import Config
from treenets.data.pairs import Pair
from treenets.errors import InputError
from treenets.parse.store import ParseStore
from treenets.splits import split_files, spread
from treenets.trees import Tree, read_lines

SCORE_RANGE_SICK = (1, 5)
FINE_CLASSES = 5
NEUTRAL = 2


@dataclass(frozen=True)
class Example:
    id: str
    inputs: tuple  # (Tree,) | (words,) | (left, right), each a Tree or a tuple of words
    target: float | int | tuple[int, ...]  # score | sentence label | per-node labels

    @property
    def sentences(self) -> int:
        return len(self.inputs)


@dataclass
class Dataset:
    """The examples of the loaded splits, and what the model needs to know about the targets."""

    splits: dict[str, list[Example]]
    score_range: tuple[int, int] | None = None  # relatedness
    num_classes: int | None = None  # sentiment
    files: list[Path] = field(default_factory=list)  # every input file read (for checksums)
    # Sequence sentiment: every SST node of each split as its own example (all-phrase metrics).
    phrases: dict[str, list[Example]] = field(default_factory=dict)

    def sentences(self) -> Iterator[tuple[str, ...]]:
        """The tokens of every sentence of every loaded split (for the vocabulary)."""
        for examples in self.splits.values():
            for example in examples:
                yield from (tokens_of(sentence) for sentence in example.inputs)


def tokens_of(sentence: Tree | tuple[str, ...]) -> tuple[str, ...]:
    """A sentence's tokens as the corpus or parser wrote them (embedding lookup undoes PTB escapes)."""
    return sentence.tokens if isinstance(sentence, Tree) else sentence


# --------------------------------------------------------------------------- sentence pairs
def pair_dataset(config: Config, splits: Iterable[str], target: Callable[[Pair], object],
                 labels: bool = False) -> Dataset:
    """The sentence pairs of ``splits``, each with ``target(pair)``; ``labels``: read SICK's
    entailment label into ``Pair.label`` (the SemEval files and SICK.txt carry it)."""
    from treenets.data.pairs import read_pairs
    from treenets.data.readers import read_sick

    files = split_files(config, tuple(splits))
    data = config.data
    store = ParseStore(data.parse_store) if data.parse_store is not None else None
    used = list(files.values())
    if store is not None:
        used.append(store.path)
    sentence = pair_sentence(config, store)
    examples = {}
    for split, path in files.items():
        pairs = read_sick(path, labels=labels) if data.pairs is None else read_pairs(data.pairs, split)
        pairs = [pairs[i] for i in spread(len(pairs), data.limit.get(split))]
        try:
            examples[split] = [Example(p.id, (sentence(p.a), sentence(p.b)), target(p)) for p in pairs]
        except InputError as err:
            raise err.at(path) from None
    score_range = SCORE_RANGE_SICK if data.pairs is None else tuple(int(bound) for bound in data.pairs.score_range)
    return _with_examples(Dataset(examples, score_range=score_range, files=used), files)


def _with_examples(dataset: Dataset, files: dict[str, Path]) -> Dataset:
    """``dataset``, or an InputError naming the file of a split left with no examples."""
    for split, examples in dataset.splits.items():
        if not examples:  # rows that parse but leave nothing to train or score on
            binary = " after leaving out the neutral sentences (sentiment.classes: 2)" if dataset.num_classes == 2 else ""
            raise InputError(f"the {split} split has no examples{binary}", files[split])
    return dataset


def pair_sentence(config: Config, store: ParseStore | None) -> Callable[[str], Tree | tuple[str, ...]]:
    """What a model reads for one sentence of a pair: its parse tree, the parser's tokens, or its
    whitespace tokens, as the config says."""
    data, model = config.data, config.model

    def sentence(text: str) -> Tree | tuple[str, ...]:
        if model.is_tree:
            parsed = store.get(text)
            return parsed.dependency_tree() if data.tree == "dependency" else parsed.constituency_tree()
        if data.tokenization == "parsed":
            return store.get(text).tokens
        return tuple(text.split())

    return sentence


# --------------------------------------------------------------------------- SST
def sst_dataset(config: Config, splits: Iterable[str]) -> Dataset:
    """SST's trees of ``splits``: per-node labels for tree models, sentence (and phrase) examples for
    sequence models."""
    from treenets.data.readers import read_sst

    files = split_files(config, tuple(splits))
    data, model, sentiment = config.data, config.model, config.sentiment
    store = ParseStore(data.parse_store) if data.tree == "dependency" else None
    dataset = Dataset({}, num_classes=sentiment.classes, files=list(files.values()))
    if store is not None:
        dataset.files.append(store.path)
    for split, path in files.items():
        # Example ids are the tree's line number in its file, so runs and models can be paired.
        numbers = [index + 1 for index in spread(len(read_lines(path)), data.limit.get(split))]
        numbered = list(zip(numbers, read_sst(path, lines=numbers)))
        if sentiment.classes == 2:  # a binary model never sees neutral sentences (Tai et al.)
            numbered = [(line, tree) for line, tree in numbered if tree.labels[tree.root] != NEUTRAL]
        if model.is_tree:
            examples = []
            for line, tree in numbered:
                if store is not None:
                    try:
                        tree = dependency_with_sst_labels(tree, store)
                    except InputError as err:
                        raise err.at(path, line) from None
                examples.append(Example(str(line), (tree,), tree.labels))
            dataset.splits[split] = examples
            continue
        dataset.splits[split] = [Example(str(line), (tree.tokens,), tree.labels[tree.root]) for line, tree in numbered]
        dataset.phrases[split] = [
            phrase for line, tree in numbered for phrase in phrase_examples(str(line), tree)
            if sentiment.classes == 5 or phrase.target != NEUTRAL
        ]
    if sentiment.train_on_phrases and "train" in dataset.phrases:
        roots = {example.id for example in dataset.splits["train"]}
        dataset.splits["train"] = dataset.splits["train"] + [
            phrase for phrase in dataset.phrases["train"] if phrase.id not in roots
        ]
    return _with_examples(dataset, files)


def spans(tree: Tree) -> list[tuple[int, int] | None]:
    """The token span ``(first, last)`` under every node; None where the tokens are not contiguous."""
    first, last, size = [0] * tree.num_nodes, [0] * tree.num_nodes, [0] * tree.num_nodes
    for node in tree.postorder():
        own = [node] if node < tree.num_tokens else []
        first[node] = min(own + [first[kid] for kid in tree.children[node]])
        last[node] = max(own + [last[kid] for kid in tree.children[node]])
        size[node] = len(own) + sum(size[kid] for kid in tree.children[node])
    return [(first[n], last[n]) if last[n] - first[n] + 1 == size[n] else None for n in range(tree.num_nodes)]


def phrase_examples(sentence_id: str, tree: Tree) -> list[Example]:
    """Every labelled node of an SST tree as a sequence example; the root keeps the sentence's id."""
    tokens = tree.tokens
    examples = []
    for node, span in enumerate(spans(tree)):
        label = tree.labels[node]
        if label < 0:
            continue
        node_id = sentence_id if node == tree.root else f"{sentence_id}.{node}"
        examples.append(Example(node_id, (tokens[span[0] : span[1] + 1],), label))
    return examples


def dependency_with_sst_labels(sst_tree: Tree, store: ParseStore) -> Tree:
    """The sentence's dependency tree, each node labelled like the SST phrase spanning the same words.

    As in Tai et al. 2015: a dependency node whose subtree covers exactly the tokens of an SST
    constituent takes its label; other nodes are unlabelled (-1). The parse must use SST's tokens.
    """
    parsed = store.get(" ".join(sst_tree.words))
    if tuple(parsed.tokens) != sst_tree.words:
        raise InputError("the parse store tokenised this sentence differently from SST (parse it pretokenised)")
    label_of_span = {span: label for span, label in zip(spans(sst_tree), sst_tree.labels)}
    tree = parsed.dependency_tree()
    labels = [label_of_span.get(span, -1) if span is not None else -1 for span in spans(tree)]
    return Tree(tree.tokens, tree.children, labels, tree.deprels)
