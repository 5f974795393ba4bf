# One training run per (dataset, model, grid point, seed): its complete config file, then
# `treenets train`, which keeps the best dev epoch and resumes from its last checkpoint when a killed
# job is started again (only the completion marker is declared, so Snakemake keeps the checkpoints).

localrules:
    run_config,


rule run_config:
    output:
        f"{RUN_DIR}/config.yaml",
    params:
        config=lambda wildcards: to_dict(run_of(wildcards).config),
    log:
        run_log("run_config"),
    run:
        from treenets.config import dump_config

        dump_config(load_config(params.config), output[0])
        Path(log[0]).write_text(f"wrote {output[0]}\n")


rule train:
    input:
        unpack(train_inputs),
    output:
        done=f"{RUN_DIR}/{TRAINING_DONE}",
        epochs=f"{RUN_DIR}/{EPOCHS_FILE}",
    params:
        run_dir=lambda wildcards: run_of(wildcards).dir,
        clean="--require-clean-tree" if config["require_clean_tree"] else "",
    log:
        run_log("train"),
    threads: RES["train"]["threads"]
    resources:
        mem_mb=RES["train"]["mem_mb"],
        runtime=RES["train"]["runtime"],
    conda:
        ENV
    shell:
        "treenets train --config {input.config:q} --run-dir {params.run_dir:q} {params.clean} > {log:q} 2>&1"
