# The gradient-flow and sequence-length study (treenets.study, `treenets study ...`): gradient norms over
# time, the adding problem and speed against length, into results/<experiment>/study/. Inert unless the
# config has a study: section (config/experiments/gradient_flow.yaml). Uses RESULTS, LOGS, PATHS, ENV and
# CORPORA of common.smk; STUDY_OUTPUTS is what `rule all` asks for (empty without a study: section).

STUDY_PARTS = {  # CLI part -> its settings section and the files it writes (treenets.study.<module>.run)
    "grad-norms": ("grad_norms", ("grad_norms.csv", "grad_norms.png", "depth.csv", "depth.md")),
    "adding": ("adding", ("adding.csv", "adding.md", "adding.png", "adding_curves.csv")),  # merged, see below
    "speed": ("speed", ("speed.csv", "speed.md", "speed.png")),
}
STUDY_OUTPUTS = []

if "study" in config:
    from treenets.study.config import load_study_config

    # The study: section, with the SST file and embedding cache in this workflow's caches unless it names others.
    STUDY_SECTION = copy.deepcopy(config["study"])
    STUDY_TREE = STUDY_SECTION.setdefault("grad_norms", {}).setdefault("tree", {})
    STUDY_TREE.setdefault("sst_file", f"{PATHS['data_cache']}/{CORPORA['sst'].files['train'].path}")
    STUDY_TREE.setdefault("embeddings_cache", PATHS["embeddings_cache"])
    try:
        STUDY = load_study_config({"study": STUDY_SECTION})  # a typo fails here, before any job starts
    except InputError as err:
        raise WorkflowError(f"config: {err}") from None
    STUDY_DIR = f"{RESULTS}/study"
    STUDY_OUTPUTS = [f"{STUDY_DIR}/{name}" for _, names in STUDY_PARTS.values() for name in names]

    # Only this part's settings (editing another part's budget does not rerun it), as JSON for --set.
    study_settings = lambda section, **replace: json.dumps({
        **{key: value for key, value in STUDY_SECTION.items() if key in ("seed", "device", "models")},
        section: {**STUDY_SECTION.get(section, {}), **replace}})

    # The adding problem runs one job per T (the long ones dominate), then one table and plot from all.
    ADDING_RUNS = {length: f"{STUDY_DIR}/adding_runs/T{length}" for length in STUDY.adding.lengths}
    for length, folder in ADDING_RUNS.items():

        rule:
            name:
                f"study_adding_T{length}"
            output:
                [f"{folder}/{name}" for name in STUDY_PARTS["adding"][1]],
            params:
                out=folder,
                settings=study_settings("adding", lengths=[length]),
            log:
                f"{LOGS}/study/adding_T{length}.log",
            threads: config["resources"]["study"]["threads"]
            resources:
                mem_mb=config["resources"]["study"]["mem_mb"],
                runtime=config["resources"]["study"]["runtime"],
            conda:
                ENV
            shell:
                "OMP_NUM_THREADS={threads} treenets study adding --out {params.out:q}"
                " --set study={params.settings:q} > {log:q} 2>&1"

    for part, (section, names) in STUDY_PARTS.items():

        rule:
            name:
                f"study_{section}"
            input:
                {"grad-norms": [STUDY.grad_norms.tree.sst_file],
                 "adding": [f"{folder}/adding.csv" for folder in ADDING_RUNS.values()]}.get(part, []),
            output:
                [
                    f"{STUDY_DIR}/{name}" if name.endswith(".md") else
                    report(f"{STUDY_DIR}/{name}", caption=f"../report/study_{section}.rst",
                           category="Gradient-flow and length study", labels={"part": part, "file": name})
                    for name in names
                ],
            params:
                part="adding-merge" if part == "adding" else part,
                runs=" --runs " + " ".join(f"'{folder}'" for folder in ADDING_RUNS.values()) if part == "adding" else "",
                out=lambda wildcards, output: Path(output[0]).parent,
                settings=study_settings(section),
            log:
                f"{LOGS}/study/{part}.log",
            threads: config["resources"]["study"]["threads"]
            resources:
                mem_mb=config["resources"]["study"]["mem_mb"],
                runtime=config["resources"]["study"]["runtime"],
            conda:
                ENV
            shell:
                "OMP_NUM_THREADS={threads} treenets study {params.part} --out {params.out:q}{params.runs}"
                " --set study={params.settings:q} > {log:q} 2>&1"
