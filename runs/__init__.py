"""Studies: configs, runner, datasets, summaries, figures, reports and the CLI."""

#: The distribution name under which this framework is installed (``pip show``).
DISTRIBUTION = "defense-coordination"
