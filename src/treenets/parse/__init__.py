"""Sentences in, trees out: Stanza parsing with a sentence-hash cache.

``store`` (the on-disk format, importable without stanza) is what the rest of the project reads;
``stanza_run``, ``models_dir`` and ``bootstrap`` import stanza lazily, so importing this package
never loads it.
"""
