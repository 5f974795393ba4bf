"""The bugs planted by hand to check that the behaviour tests fail (issue 17): one at a time, each file
restored after its tests ran. The trainer and the study share train.training_step, so their clipping
bugs are planted there; each entry's text must occur once in its file (asserted), so a move of the code
shows up here. From the repository root:  python docs/mutation/planted.py [NAME ...]"""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path.cwd()
T = "tests/test_experiment_behaviours.py::"
BUGS = [
    ("trainer clip ignored", "src/treenets/train.py", "    if clip_norm is not None:\n        torch.nn.utils.clip_grads_with_norm_", "    if False:\n        torch.nn.utils.clip_grads_with_norm_", T+"test_trainer_clips_the_gradient_the_optimizer_sees"),
    ("trainer clip after step", "src/treenets/train.py", "        torch.nn.utils.clip_grads_with_norm_(params, clip_norm, norm)\n    optimizer.step()", "        pass\n    optimizer.step()\n    if clip_norm is not None:\n        torch.nn.utils.clip_grads_with_norm_(params, clip_norm, norm)", T+"test_trainer_clips_the_gradient_the_optimizer_sees"),
    ("study clip ignored", "src/treenets/train.py", "    if clip_norm is not None:\n        torch.nn.utils.clip_grads_with_norm_", "    if False:\n        torch.nn.utils.clip_grads_with_norm_", T+"test_study_training_step_clips_before_the_update"),
    ("study clip after step", "src/treenets/train.py", "        torch.nn.utils.clip_grads_with_norm_(params, clip_norm, norm)\n    optimizer.step()", "        pass\n    optimizer.step()\n    if clip_norm is not None:\n        torch.nn.utils.clip_grads_with_norm_(params, clip_norm, norm)", T+"test_study_training_step_clips_before_the_update"),
    ("binary: neutral sentences kept", "src/treenets/datasets.py", "        if sentiment.classes == 2:  # a binary", "        if False:  # a binary", T+"test_the_labels_a_tree_model_is_trained_on"),
    ("five-class model given two-class labels", "src/treenets/tasks/sentiment.py", "trained = binary_gold(labels) if config.sentiment.classes == 2 else labels", "trained = binary_gold(labels)", T+"test_the_labels_a_tree_model_is_trained_on"),
    ("clean tree not checked", "src/treenets/train.py", "    if require_clean_tree:\n        check_clean_tree()\n", "    pass\n", "tests/test_cli_train.py::test_require_clean_tree_refuses_uncommitted_changes"),
    ("dirty tree taken for clean", "src/treenets/train.py", '    if commit is None or commit.endswith("+dirty"):', "    if commit is None:", "tests/test_cli_train.py::test_require_clean_tree_refuses_uncommitted_changes"),
    ("binary: labels unmapped", "src/treenets/tasks/sentiment.py", "trained = binary_gold(labels) if config.sentiment.classes == 2 else labels", "trained = labels", T+"test_the_labels_a_tree_model_is_trained_on"),
    ("binary: neutral nodes as negative", "src/treenets/evaluate.py", "    excluded = (fine_labels == NEUTRAL) | (fine_labels < 0)", "    excluded = fine_labels < 0", T+"test_the_labels_a_tree_model_is_trained_on"),
    ("binary: 2 counted positive", "src/treenets/evaluate.py", "(fine_labels > NEUTRAL).astype(int)", "(fine_labels >= NEUTRAL - 1).astype(int)", T+"test_the_labels_a_tree_model_is_trained_on"),
    ("SST dependency ignored", "src/treenets/datasets.py", 'store = ParseStore(data.parse_store) if data.tree == "dependency" else None', 'store = None', T+"test_sst_with_dependency_trees_reads_the_parse_store"),
    ("sentiment loss: mean over nodes", "src/treenets/models/heads.py", 'reduction="sum") / num_examples', 'reduction="mean")', T+"test_sentiment_loss_sums_over_labelled_nodes_and_divides_by_sentences"),
    ("sentiment loss: / every node", "src/treenets/models/heads.py", 'reduction="sum") / num_examples', 'reduction="sum") / len(labels)', T+"test_sentiment_loss_sums_over_labelled_nodes_and_divides_by_sentences"),
    ("sentiment loss: / nodes in model", "src/treenets/tasks/sentiment.py", "batch.targets, batch.size)", "batch.targets, batch.inputs[0].num_nodes)", T+"test_sentiment_loss_sums_over_labelled_nodes_and_divides_by_sentences"),
    ("train_loss: last batch dropped", "src/treenets/train.py", "    total_loss += read(*pending)\n    return total_loss / examples", "    return total_loss / examples", T+"test_epochs_jsonl_holds_the_mean_training_loss_per_pair"),
    ("train_loss: batches weighted alike, not by size", "src/treenets/train.py", "        return loss * size", "        return loss * 22", T+"test_epochs_jsonl_holds_the_mean_training_loss_per_pair"),
    ("KL negated", "src/treenets/models/heads.py", '        return F.kl_div(log_probs, sparse_target(scores, self.lo, self.hi), reduction="batchmean")', '        return -F.kl_div(log_probs, sparse_target(scores, self.lo, self.hi), reduction="batchmean")', T+"test_epochs_jsonl_holds_the_mean_training_loss_per_pair"),
    ("KL negated, model test", "src/treenets/models/heads.py", '        return F.kl_div(log_probs, sparse_target(scores, self.lo, self.hi), reduction="batchmean")', '        return -F.kl_div(log_probs, sparse_target(scores, self.lo, self.hi), reduction="batchmean")', "tests/test_build_model.py::test_relatedness_model_trains_on_sick"),
    ("CE negated", "src/treenets/models/heads.py", '        return F.cross_entropy(', '        return -F.cross_entropy(', T+"test_sentiment_loss_sums_over_labelled_nodes_and_divides_by_sentences"),
    ("CE negated, model test", "src/treenets/models/heads.py", '        return F.cross_entropy(', '        return -F.cross_entropy(', "tests/test_build_model.py::test_sentiment_model_trains_on_sst"),
    ("bootstrap one-sided", "src/treenets/evaluate.py", "p_value = float((1 + np.sum(shifted >= abs(delta))) / (1 + n_resamples))", "p_value = float((1 + np.sum(result.bootstrap_distribution <= 0)) / (1 + n_resamples))", T+"test_paired_bootstrap_p_value_is_two_sided"),
    ("bootstrap ties excluded", "src/treenets/evaluate.py", "np.sum(shifted >= abs(delta))", "np.sum(shifted > abs(delta))", T+"test_paired_bootstrap_p_value_is_two_sided"),
    ("median: upper middle", "src/treenets/report.py", "return ordered[(len(ordered) - 1) // 2]", "return ordered[len(ordered) // 2]", T+"test_report_compares_median_seed_runs_and_plots_the_train_loss"),
    ("median: unsorted", "src/treenets/report.py", "    ordered = sorted(runs, key=lambda run: run.metrics.get(metric, np.nan))", "    ordered = list(runs)", T+"test_report_compares_median_seed_runs_and_plots_the_train_loss"),
    ("median: best seed", "src/treenets/report.py", "return ordered[(len(ordered) - 1) // 2]", "return ordered[-1]", T+"test_report_compares_median_seed_runs_and_plots_the_train_loss"),
    ("plot: last seed's loss", "src/treenets/report.py", '        loss_axis.plot(mean.index, mean["train_loss"]', '        loss_axis.plot(mean.index, epochs.groupby("epoch").last()["train_loss"]', T+"test_report_compares_median_seed_runs_and_plots_the_train_loss"),
]
only = sys.argv[1:]
for name, path, old, new, tests in BUGS:
    if only and not any(o in name for o in only):
        continue
    file = ROOT / path
    text = file.read_text()
    assert text.count(old) == 1, (name, text.count(old))
    file.write_text(text.replace(old, new))
    try:
        r = subprocess.run(f"python -m pytest -p no:xdist -q -x {tests}", shell=True, cwd=ROOT, capture_output=True, text=True)
    finally:
        file.write_text(text)
    last = r.stdout.strip().splitlines()[-1]
    print(f"{'CAUGHT ' if r.returncode else 'MISSED '} {name}: {last}", flush=True)
