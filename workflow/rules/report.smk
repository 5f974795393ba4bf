# Per dataset: tables/<dataset>.{csv,md,tex} and plots/<dataset>_*.png from every run on it
# (treenets report; see treenets.report for what each file holds).


rule report:
    input:
        lambda wildcards: [f"{run.dir}/{name}" for run in runs_on(wildcards.dataset) for name in RUN_RESULT_FILES],
    output:
        csv=report(REPORT_FILES["table_csv"], caption="../report/table.rst", category="Tables",
                   labels={"dataset": "{dataset}"}),
        md=REPORT_FILES["table_md"],
        tex=REPORT_FILES["table_tex"],
        runs_csv=REPORT_FILES["runs_csv"],
        runs_md=REPORT_FILES["runs_md"],
        learning_curves=report(REPORT_FILES["learning_curves"], caption="../report/learning_curves.rst",
                               category="Learning curves", labels={"dataset": "{dataset}"}),
        predictions=report(REPORT_FILES["predictions"], caption="../report/predictions.rst",
                           category="Predictions", labels={"dataset": "{dataset}"}),
        bars=report(REPORT_FILES["bars"], caption="../report/bars.rst", category="Main metric",
                    labels={"dataset": "{dataset}"}),
    params:
        task=lambda wildcards: config["datasets"][wildcards.dataset]["task"],
        runs=report_arguments,
        out_dir=lambda wildcards, output: Path(output.csv).parent.parent,
        resamples=config["report"]["resamples"],
    log:
        f"{LOGS}/report/{{dataset}}.log",
    threads: RES["report"]["threads"]
    resources:
        mem_mb=RES["report"]["mem_mb"],
        runtime=RES["report"]["runtime"],
    conda:
        ENV
    shell:
        "treenets report --task {params.task} --name {wildcards.dataset} --out-dir {params.out_dir:q}"
        " --resamples {params.resamples} {params.runs} > {log:q} 2>&1"
