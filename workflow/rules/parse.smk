# Stanza parses of every sentence set a tree model reads: the parser's models first (trained here,
# downloaded by this one job, or a folder checked), then one parse store per sentence set. With
# parser source treelstm the store is taken from existing treelstm-format parses instead.

BOOTSTRAP_TREEBANKS = [f"{PATHS['data_cache']}/{CORPORA[name].files[role].path}"
                       for name, roles in (("ud-english-lines", ("train", "dev", "test")), ("ptb-sample", ("treebank",)))
                       for role in roles]


rule parser_bootstrap:
    input:
        treebanks=BOOTSTRAP_TREEBANKS,
        vectors=vectors_file(PARSER["vectors"]),
    output:
        f"{PATHS['parsers']}/bootstrap-{{parser}}/{BOOTSTRAP_MARKER}",
    params:
        out=lambda wildcards, output: Path(output[0]).parent,
        cache=lambda wildcards, input: cache_root(input.treebanks[0]),
        budget=PARSER["budget"],
        vectors=PARSER["vectors"],
        seed=PARSER["seed"],
    log:
        f"{PATHS['parsers']}/logs/bootstrap-{{parser}}.log",
    threads: RES["parser"]["threads"]
    resources:
        mem_mb=RES["parser"]["mem_mb"],
        runtime=RES["parser"]["runtime"],
    priority: 10  # on every tree model's path: start it first
    conda:
        ENV
    shell:
        "treenets parser-models bootstrap --out {params.out:q} --budget {params.budget} --data-cache {params.cache:q}"
        " --vectors {params.vectors:q} --seed {params.seed} --threads {threads} > {log:q} 2>&1"


rule parser_download:
    output:
        f"{PATHS['parsers']}/official-{{parser}}/{RESOURCES}",
    params:
        dir=lambda wildcards, output: Path(output[0]).parent,
        package=PARSER["package"],
    log:
        f"{PATHS['parsers']}/logs/official-{{parser}}.log",
    threads: RES["parser"]["threads"]
    resources:
        mem_mb=RES["parser"]["mem_mb"],
        runtime=RES["parser"]["runtime"],
    priority: 10  # on every tree model's path: start it first
    conda:
        ENV
    shell:
        "treenets parser-models download --dir {params.dir:q} --package {params.package:q} > {log:q} 2>&1"


rule parser_check:
    output:
        touch(f"{PATHS['parsers']}/dir-{{parser}}.checked"),
    params:
        dir=PARSER.get("dir", ""),
        package=PARSER["package"],
        tokenize=PARSER["tokenize"],
    log:
        f"{PATHS['parsers']}/logs/dir-{{parser}}.log",
    conda:
        ENV
    shell:
        "treenets parser-models check --dir {params.dir:q} --package {params.package:q}"
        " --tokenize {params.tokenize} > {log:q} 2>&1"


# Downloading needs the network: on a cluster it runs where Snakemake runs, not on a compute node.
localrules:
    parser_download,
    parser_check,
    parse_config,


rule parse_config:
    output:
        f"{PARSED}/{{store}}.yaml",
    params:
        config=lambda wildcards: parse_config(f"{PARSED}/{wildcards.store}"),
    log:
        f"{PARSED}/logs/{{store}}.config.log",
    run:
        from treenets.config import dump_config

        dump_config(load_config(params.config), output[0])
        Path(log[0]).write_text(f"wrote {output[0]}\n")


rule parse:
    input:
        config=f"{PARSED}/{{store}}.yaml",
        parser=PARSER_READY,
        data=lambda wildcards: data_inputs(PARSE_RUNS[f"{PARSED}/{wildcards.store}"].config),
    output:
        f"{PARSED}/{{store}}/{PARSE_DONE}",
    params:
        out=lambda wildcards, output: Path(output[0]).parent,
        cache=f"{PARSED}/cache",
        source=parse_source,
        tokenize=PARSER["tokenize"],
        device=PARSER["device"],
        batch_size=PARSER["batch_size"],
        package=PARSER["package"],
    log:
        f"{PARSED}/logs/{{store}}.log",
    threads: RES["parse"]["threads"]
    resources:
        mem_mb=RES["parse"]["mem_mb"],
        runtime=RES["parse"]["runtime"],
    priority: 10  # on every tree model's path: start it first
    conda:
        ENV
    shell:
        "treenets parse --config {input.config:q} {params.source} --out {params.out:q}"
        " --cache {params.cache:q} --tokenize {params.tokenize} --device {params.device:q}"
        " --batch-size {params.batch_size} --package {params.package:q} --threads {threads} > {log:q} 2>&1"
