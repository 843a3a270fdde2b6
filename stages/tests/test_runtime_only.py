"""The execute stage loads ExecuTorch's runtime without its compiler (``runtime.executorch_runtime``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import sys
    from pte_stages.runtime import executorch_runtime

    Runtime = executorch_runtime()
    assert Runtime.get() is not None
    heavy = sorted(m for m in sys.modules if m.startswith(("executorch.exir", "torch._dynamo", "torch._inductor")))
    assert heavy == [], heavy
    import executorch.exir  # the real package, whole, after the runtime is loaded

    assert callable(executorch.exir.to_edge_transform_and_lower)
    assert executorch.exir._warnings.experimental is not None
    print("ok")
    """
)


def test_runtime_loads_without_the_compiler_and_the_compiler_still_imports_whole() -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
