"""`mmkp benchmark`: train and score every system of a suite (the paper's Table 1 or 2) on
one kind of data, resumably, and write the comparison table (docs/benchmark.md).

    suite.py       the suites (package data: mmkp/configs/benchmark/*.yaml)
    plan.py        suite -> (system, seed) jobs, or the reason a system does not run
    generated.py   the generated data, built once per run folder as `mmkp demo` builds it
    runner.py      the jobs in single-thread subprocesses, side by side; completion markers
    scoring.py     finished runs -> metrics and per-post scores (mmkp.evaluation)
    table.py       Table 1's layout: groups, mean ± std, paired bootstrap p-values; md, csv
    plot.py        the table as bars with error bars
    experiment.py  all of it in order: `run_benchmark`
"""
