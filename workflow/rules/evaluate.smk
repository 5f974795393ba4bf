# The best checkpoint of each run on the test split: metrics.json, predictions.tsv (and, for sentiment,
# phrases.tsv) in the run directory, what the report reads.


rule evaluate:
    input:
        done=f"{RUN_DIR}/{TRAINING_DONE}",
    output:
        metrics=f"{RUN_DIR}/{TEST_METRICS_FILE}",
        predictions=f"{RUN_DIR}/{PREDICTIONS_FILE}",
    params:
        run_dir=lambda wildcards: run_of(wildcards).dir,
    log:
        run_log("evaluate"),
    threads: RES["evaluate"]["threads"]
    resources:
        mem_mb=RES["evaluate"]["mem_mb"],
        runtime=RES["evaluate"]["runtime"],
    conda:
        ENV
    shell:
        "treenets evaluate --run-dir {params.run_dir:q} --split test > {log:q} 2>&1"
