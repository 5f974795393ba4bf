# The corpora and GloVe text files of treenets.data.registry, fetched into the cache (the
# TREENETS_DATA_MIRROR folder first, else the canonical URL; sha256-checked). A local rule: on a
# cluster it runs where Snakemake runs (a login node, which has the network compute nodes may lack).


localrules:
    fetch,


rule fetch:
    output:
        f"{PATHS['data_cache']}/{{file}}",
    wildcard_constraints:
        file="|".join(re.escape(file) for file in FETCHABLE),
    params:
        name=lambda wildcards: FETCHABLE[wildcards.file],
        cache=lambda wildcards, output: cache_root(output[0]),
    log:
        f"{PATHS['data_cache']}/logs/{{file}}.log",
    threads: RES["fetch"]["threads"]
    resources:
        mem_mb=RES["fetch"]["mem_mb"],
        runtime=RES["fetch"]["runtime"],
    conda:
        ENV
    shell:
        "treenets fetch {params.name:q} --cache {params.cache:q} > {log:q} 2>&1"
