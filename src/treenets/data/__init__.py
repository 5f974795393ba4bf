"""Corpora: the registry, fetching into the cache, and readers (no torch)."""

from treenets.data.fetch import fetch
from treenets.data.pairs import Pair, PairDatasetSpec, read_pairs
from treenets.data.readers import read_conllu, read_sick, read_sst
from treenets.data.registry import CORPORA, Corpus, DataFile

__all__ = ["CORPORA", "Corpus", "DataFile", "Pair", "PairDatasetSpec", "fetch", "read_conllu",
           "read_pairs", "read_sick", "read_sst"]
