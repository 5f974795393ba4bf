# treenets: tree-structured and recurrent nets on SICK and SST, from corpora to result tables.
#   snakemake --cores 2 --configfile config/demo.yaml --workflow-profile config/profiles/local
# config/config.yaml holds the shared defaults; the experiment file (--configfile) the datasets, models,
# seeds and grid. Results: results/<experiment>/{runs,tables,plots,logs}.

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: f"{workflow.basedir}/config/config.yaml"


if "experiment" not in config:
    raise ValueError(
        "no experiment chosen: add --configfile config/demo.yaml (or a file of config/experiments/)"
    )
validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/fetch.smk"
include: "workflow/rules/parse.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/study.smk"


rule all:
    input:
        report_outputs(),
        STUDY_OUTPUTS,
    default_target: True


onsuccess:
    if config["datasets"]:
        print(f"Tables: {RESULTS}/tables/ ({', '.join(f'{d}.md' for d in config['datasets'])}); plots: {RESULTS}/plots/")
