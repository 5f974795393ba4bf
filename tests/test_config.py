"""Config sections: defaults, validation messages that name the key, YAML files, overrides."""

from __future__ import annotations

import pytest

from treenets.config import Config, dump_config, from_dict, load_config, model_config, to_dict
from treenets.errors import InputError

SST_TREE = {"task": "sentiment", "data": {"dataset": "sst"}, "model": {"name": "nary_treelstm"}}
SICK_LSTM = {"task": "relatedness", "data": {"dataset": "sick"}, "model": {"name": "lstm"}}


def with_section(base: dict, section: str, **values) -> dict:
    return {**base, section: {**base.get(section, {}), **values}}


def test_defaults_follow_the_papers():
    config = load_config(SST_TREE)
    assert config.optimizer.name == "adagrad" and config.optimizer.lr == 0.05 and config.optimizer.l2 == 1e-4
    assert config.optimizer.l2_mode == "paper" and config.training.batch_size == 25
    assert config.embeddings.source == "glove-6b-50d"
    assert config.data.tree == "constituency"  # SST's own trees


def test_pair_tree_models_default_to_their_natural_trees():
    childsum = {"task": "relatedness", "data": {"dataset": "sick", "parse_store": "parsed/sick"},
                "model": {"name": "childsum_treelstm"}}
    assert load_config(childsum).data.tree == "dependency"
    rntn = with_section(childsum, "model", name="rntn")
    assert load_config(rntn).data.tree == "constituency"
    assert load_config(SICK_LSTM).data.tree is None  # sequence models read no trees


def test_needs_parses_names_the_runs_that_read_a_parse_store():
    store = {"parse_store": "parsed/x"}
    assert load_config(with_section(SST_TREE, "data", **store)).needs_parses is False  # SST's own trees
    assert load_config(with_section(with_section(SST_TREE, "data", tree="dependency", **store), "model",
                                    name="childsum_treelstm")).needs_parses
    assert load_config(with_section(SICK_LSTM, "data", **store)).needs_parses is False  # whitespace tokens
    assert load_config(with_section(SICK_LSTM, "data", tokenization="parsed", **store)).needs_parses
    assert load_config({**with_section(SICK_LSTM, "data", **store), "model": {"name": "rntn"}}).needs_parses


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (with_section(SST_TREE, "optimizer", lr=0), "optimizer.lr: must be > 0"),
        (with_section(SST_TREE, "optimizer", name="rmsprop"), "optimizer.name: must be one of"),
        (with_section(SST_TREE, "optimizer", lr="fast"), "optimizer.lr: expected a number"),
        (with_section(SST_TREE, "training", epochs=0), "training.epochs: must be >= 1"),
        (with_section(SST_TREE, "training", patience=0), "training.patience: must be >= 1"),
        (with_section(SST_TREE, "training", device="tpu"), "training.device: must be one of"),
        (with_section(SST_TREE, "training", batchsize=5), "training.batchsize: unknown key"),
        (with_section(SST_TREE, "embeddings", lr=-1.0), "embeddings.lr: must be > 0"),
        (with_section(SST_TREE, "sentiment", classes=3), "sentiment.classes: must be one of"),
        (with_section(SST_TREE, "data", limit={"train": 0}), "data.limit.train: must be an integer >= 1"),
        (with_section(SST_TREE, "data", files={"validation": "x"}), "data.files.validation: unknown split"),
        (with_section(SST_TREE, "data", tree="dependency"), "data.tree: nary_treelstm composes two children"),
        (with_section(SST_TREE, "model", hidden=0), "model.hidden: must be >= 1"),
        (with_section(SST_TREE, "model", name="rntn", output_gate=False),
         "model.output_gate: an option of childsum_treelstm, gru, lstm, nary_treelstm, rnn, not of rntn"),
        (with_section(SST_TREE, "model", sentence_layers="all"),
         "model.sentence_layers: an option of gru, lstm, rnn, not of nary_treelstm"),
        (with_section(SICK_LSTM, "model", sentence_layers="middle"), "model.sentence_layers: must be one of"),
        (with_section(SST_TREE, "model", composition_init="identity"),
         "model.composition_init: an option of recnn, rntn, not of nary_treelstm"),
        ({**SST_TREE, "model": {"name": "rntn", "composition_init": "eye"}}, "model.composition_init: must be one of"),
        (with_section(SICK_LSTM, "model", leaf_tanh=True), "model.leaf_tanh: an option of recnn, rntn, not of lstm"),
        (with_section(SICK_LSTM, "model", tie_directions=True), "model.tie_directions: only for a bidirectional"),
        (with_section(SST_TREE, "optimizer", l2_head=1e-4, l2_mode="weight_decay"), "optimizer.l2_head: only with l2_mode: paper"),
        (with_section(SST_TREE, "embeddings", frozen=True, l2=1e-4), "embeddings.l2: the vectors are frozen"),
        (with_section(with_section(SST_TREE, "embeddings", l2=1e-4), "optimizer", l2_mode="weight_decay"),
         "embeddings.l2: only with optimizer.l2_mode: paper"),
        (with_section(SST_TREE, "optimizer", name="adam", adagrad_reset=1), "optimizer.adagrad_reset: only for adagrad"),
        (with_section(SST_TREE, "optimizer", adagrad_reset=-1), "optimizer.adagrad_reset: must be >= 0"),
        (with_section(SST_TREE, "optimizer", name="sgd", eps=1e-3), "optimizer.eps: must be > 0 and for adagrad or adam"),
        (with_section(SST_TREE, "sentiment", train_on_phrases=True), "sentiment.train_on_phrases"),
        ({**SST_TREE, "task": 1}, "task: must be one of"),
        ({**SST_TREE, "task": "relatedness"}, "data.dataset: task relatedness needs sick or pairs"),
        ({**SICK_LSTM, "model": {"name": "childsum_treelstm"}}, "data.parse_store: required"),
        (with_section(SICK_LSTM, "data", tokenization="parsed"), "data.parse_store: required"),
        ({"task": "sentiment", "model": {"name": "lstm"}}, "data: required key is missing"),
        ({**SST_TREE, "seed": 3}, "seed: unknown key"),
    ],
)
def test_bad_values_name_the_key(config, message):
    with pytest.raises(InputError) as caught:
        load_config(config)
    assert message in str(caught.value)


def test_yaml_file_round_trip_and_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(
        "task: sentiment\n"
        "data: {dataset: sst, limit: {train: 100, dev: 50}}\n"
        "model: {name: lstm, hidden: 16}\n"
        "sentiment: {train_on_phrases: true}\n"
    )
    config = load_config(path, ["training.epochs=3", "embeddings.lr=null", "optimizer.clip_norm=5", "model.name=gru",
                                "optimizer.lr=1e-3"])
    assert config.training.epochs == 3 and config.embeddings.lr is None and config.optimizer.clip_norm == 5.0
    assert config.optimizer.lr == 0.001  # YAML 1.1 reads 1e-3 as a string; number fields accept it
    assert config.model == model_config(name="gru", hidden=16)
    assert config.data.limit == {"train": 100, "dev": 50}
    dump_config(config, tmp_path / "resolved.yaml")
    assert load_config(tmp_path / "resolved.yaml") == config
    assert from_dict(Config, to_dict(config)) == config


def test_file_errors_name_the_file_and_line(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("task: sentiment\ndata: {dataset: sst\nmodel: {name: lstm}\n")
    with pytest.raises(InputError) as caught:
        load_config(broken)
    assert caught.value.path == str(broken) and caught.value.line is not None and "invalid YAML" in str(caught.value)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("task: sentiment\ndata: {dataset: sst}\nmodel: {name: lstm, hidden: -2}\n")
    with pytest.raises(InputError, match=r"wrong.yaml: model.hidden: must be >= 1"):
        load_config(wrong)
    with pytest.raises(InputError, match="cannot read config"):
        load_config(tmp_path / "absent.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(InputError, match="expected a mapping"):
        load_config(tmp_path / "list.yaml")


@pytest.mark.parametrize(
    ("override", "message"),
    [("training.epochs", "expected key.path=value"), ("task.x=1", "task is not a section"),
     ("training.epochs=[1", "not valid YAML"), ("training.epochs=three", "training.epochs: expected an integer")],
)
def test_bad_overrides(override, message):
    with pytest.raises(InputError, match=message):
        load_config(SST_TREE, [override])


def test_each_model_has_its_own_default_nonlinearity():
    assert model_config(name="indrnn").activation == "relu"
    assert model_config(name="rnn").activation == "tanh"
    assert model_config(name="indrnn", nonlinearity="tanh").activation == "tanh"


@pytest.mark.parametrize(("model", "message"), [
    ({"name": "lstm", "mag": 3.0}, "model.mag: an option of indrnn, not of lstm"),
    ({"name": "rntn", "layers": 2}, "model.layers: an option of gru, indrnn, lstm, rnn, srnn, not of rntn"),
    ({"name": "nary_treelstm", "leaf_tanh": True}, "model.leaf_tanh: an option of recnn, rntn, not of nary_treelstm"),
    ({"name": "gru", "output_gate": False}, "model.output_gate: only the Tree-LSTMs and lstm"),
    ({"name": "childsum_treelstm", "cuda_graphs": True}, "model.cuda_graphs: only the nary_treelstm"),
    ({"name": "lstm", "tie_directions": True}, "model.tie_directions: only for a bidirectional lstm"),
    ({"name": "srnn", "cell": "tree"}, "model.cell: must be one of 'rnn', 'lstm', 'gru'"),
    ({"name": "indrnn", "preactivation": True}, "model.preactivation: a kind of residual stack; set residual"),
    ({"name": "gru", "preactivation": True}, "model.preactivation: an option of indrnn, not of gru"),
    ({"name": "lstm", "colour": 1}, "model.colour: unknown key \\(known for lstm: bidirectional"),
    ({"hidden": 3}, "model.name: required key is missing"),
])
def test_each_encoder_validates_its_own_options(model, message):
    with pytest.raises(InputError, match=message):
        load_config({**SST_TREE, "model": model})


def test_first_release_run_configs_load_and_write_back_unchanged():
    """Run configs of the first release list every encoder's options (flat); they load, and a config is
    written with the first release's keys in its order, later keys only where they are not at their default."""
    first_release = {"name": "lstm", "hidden": 150, "layers": 1, "bidirectional": False, "nonlinearity": None,
                     "dropout": 0.0, "mag": 2.0, "constraint_len": None, "residual": False, "batch_norm": False,
                     "slices": 8, "levels": 2, "cell": "gru", "head_hidden": 50}
    config = load_config({**SST_TREE, "model": first_release})
    assert config.model == model_config(name="lstm") and to_dict(config)["model"] == first_release
    assert list(to_dict(config)["optimizer"]) == ["name", "lr", "l2", "l2_mode", "clip_norm"]
    rntn = to_dict(load_config({**SST_TREE, "model": {"name": "rntn", "hidden": 25, "leaf_tanh": True}}))["model"]
    assert rntn == {**first_release, "name": "rntn", "hidden": 25, "leaf_tanh": True}
