"""Published numbers the result tables are compared with (../shared/notes/anchors.md), as data.

Each entry is one row of a paper's (or a reference implementation's) test-set table, under a key
``<source>/<dataset>/<row>`` that an experiment config names per model (``paper:``). Metric names
are those of :mod:`treenets.evaluate`: ``pearson``, ``spearman``, ``mse`` for SICK; ``fine_root``,
``binary_root``, ``fine_all``, ``binary_all`` for SST, in percent as the papers print them.
``std`` holds the standard deviation over runs where the paper gives one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from treenets.errors import InputError

TAI2015 = "Tai et al. (2015)"
SOCHER2013 = "Socher et al. (2013)"


@dataclass(frozen=True)
class Published:
    source: str  # who reported it, as cited in table captions
    row: str  # the row's name in that table
    mean: dict[str, float]
    std: dict[str, float] = field(default_factory=dict)


def _sick(source: str, row: str, pearson: float, spearman: float | None, mse: float | None) -> Published:
    values = {"pearson": pearson, "spearman": spearman, "mse": mse}
    return Published(source, row, {k: v for k, v in values.items() if v is not None})


def _sst_tai(row: str, fine: float, fine_std: float | None, binary: float, binary_std: float | None) -> Published:
    std = {"fine_root": fine_std, "binary_root": binary_std}
    return Published(TAI2015, row, {"fine_root": fine, "binary_root": binary},
                     {k: v for k, v in std.items() if v is not None})


def _sst_socher(row: str, fine_all: float, fine_root: float, binary_all: float, binary_root: float) -> Published:
    return Published(SOCHER2013, row, {"fine_all": fine_all, "fine_root": fine_root,
                                       "binary_all": binary_all, "binary_root": binary_root})


ANCHORS: dict[str, Published] = {
    # Tai et al. 2015, Table 3: SICK test, Pearson r / Spearman rho / MSE.
    "tai2015/sick/mean_vectors": _sick(TAI2015, "Mean vectors", 0.7577, 0.6738, 0.4557),
    "tai2015/sick/dt_rnn": _sick(TAI2015, "DT-RNN", 0.7923, 0.7319, 0.3822),
    "tai2015/sick/sdt_rnn": _sick(TAI2015, "SDT-RNN", 0.7900, 0.7304, 0.3848),
    "tai2015/sick/lstm": _sick(TAI2015, "LSTM", 0.8528, 0.7911, 0.2831),
    "tai2015/sick/bilstm": _sick(TAI2015, "Bidirectional LSTM", 0.8567, 0.7966, 0.2736),
    "tai2015/sick/lstm_2layer": _sick(TAI2015, "2-layer LSTM", 0.8515, 0.7896, 0.2838),
    "tai2015/sick/bilstm_2layer": _sick(TAI2015, "2-layer Bidirectional LSTM", 0.8558, 0.7965, 0.2762),
    "tai2015/sick/constituency_treelstm": _sick(TAI2015, "Constituency Tree-LSTM", 0.8582, 0.7966, 0.2734),
    "tai2015/sick/dependency_treelstm": _sick(TAI2015, "Dependency Tree-LSTM", 0.8676, 0.8083, 0.2532),
    # Tai et al. 2015, Table 2: SST test accuracy, fine-grained / binary (sentence level), std over 5 runs.
    "tai2015/sst/lstm": _sst_tai("LSTM", 46.4, 1.1, 84.9, 0.6),
    "tai2015/sst/bilstm": _sst_tai("Bidirectional LSTM", 49.1, 1.0, 87.5, 0.5),
    "tai2015/sst/lstm_2layer": _sst_tai("2-layer LSTM", 46.0, 1.3, 86.3, 0.6),
    "tai2015/sst/bilstm_2layer": _sst_tai("2-layer Bidirectional LSTM", 48.5, 1.0, 87.2, 1.0),
    "tai2015/sst/dependency_treelstm": _sst_tai("Dependency Tree-LSTM", 48.4, 0.4, 85.7, 0.4),
    "tai2015/sst/constituency_treelstm_random": _sst_tai("Constituency Tree-LSTM, random vectors", 43.9, 0.6, 82.0, 0.5),
    "tai2015/sst/constituency_treelstm_glove_fixed": _sst_tai("Constituency Tree-LSTM, GloVe vectors fixed",
                                                              49.7, 0.4, 87.5, 0.8),
    "tai2015/sst/constituency_treelstm": _sst_tai("Constituency Tree-LSTM, GloVe vectors tuned", 51.0, 0.5, 88.0, 0.3),
    "tai2015/sst/rntn": _sst_tai("RNTN (Socher et al. 2013)", 45.7, None, 85.4, None),
    # Socher et al. 2013, Table 1: SST test accuracy, fine all / fine root / binary all / binary root.
    "socher2013/sst/nb": _sst_socher("NB", 67.2, 41.0, 82.6, 81.8),
    "socher2013/sst/svm": _sst_socher("SVM", 64.3, 40.7, 84.6, 79.4),
    "socher2013/sst/binb": _sst_socher("BiNB", 71.0, 41.9, 82.7, 83.1),
    "socher2013/sst/vecavg": _sst_socher("VecAvg", 73.3, 32.7, 85.1, 80.1),
    "socher2013/sst/rnn": _sst_socher("RNN", 79.0, 43.2, 86.1, 82.4),
    "socher2013/sst/mv_rnn": _sst_socher("MV-RNN", 78.7, 44.4, 86.8, 82.9),
    "socher2013/sst/rntn": _sst_socher("RNTN", 80.7, 45.7, 87.6, 85.4),
    # Reference implementations.
    "dgl/sst/treelstm": Published("DGL examples/pytorch/tree_lstm", "Tree-LSTM, GloVe 840B", {"fine_root": 51.72}),
    "dasguptar/sick/dependency_treelstm": _sick("dasguptar/treelstm.pytorch", "Dependency Tree-LSTM",
                                                0.8674, None, 0.2536),
    "pytree/sick/childsum_treelstm": _sick("AntoineSimoulin/pytree", "Child-sum Tree-LSTM", 0.8647, None, None),
    "pytree/sick/nary_treelstm": _sick("AntoineSimoulin/pytree", "N-ary Tree-LSTM", 0.8537, None, None),
    "tf_fold/sst/treelstm": Published("TensorFlow Fold", "Tree-LSTM", {"fine_root": 51.9, "binary_root": 89.3}),
}


def published(key: str) -> Published:
    """The published row ``key``; an :class:`InputError` listing the known keys if there is none."""
    try:
        return ANCHORS[key]
    except KeyError:
        raise InputError(f"no published numbers under {key!r}; known: {', '.join(ANCHORS)}") from None
