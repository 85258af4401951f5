"""The one-way import rule: the core and the mechanisms never import Mesa."""

from __future__ import annotations

import subprocess
import sys


def test_core_imports_no_mesa():
    code = (
        "import sys, sim, sim.solvers, sim.solvers.reference, sim.generators, sim.instances, "
        "sim.sampling, mechanisms\n"
        "bad = [m for m in ('mesa', 'pandas', 'agents', 'runs', 'sim.model') if m in sys.modules]\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
