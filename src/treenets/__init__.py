"""treenets: tree-structured and recurrent networks for sentence relatedness and sentiment."""

__version__ = "0.1.0"
