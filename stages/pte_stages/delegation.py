"""What a partitioner did with a graph: the delegation report, and the fragmentation alarm.

On an NPU the number of delegated subgraphs is a performance fact: every extra subgraph is a
round trip NPU → CPU → NPU, with the operators between them run by the CPU (Arm's labs show one
LocalResponseNorm turning a single Ethos-U subgraph into two). A change that raises the count is
worth an alarm even when the numbers still match, so the report is kept in the manifest and
compared against a base's.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

# Graph plumbing, not operators anyone runs: delegate calls, tuple unpacking, shape queries, views.
_BOOKKEEPING = ("getitem", "sym_size", "alloc", "view", "executorch_call_delegate")


def _name(target: Any) -> str:
    return str(getattr(target, "__name__", target))


def delegation(graph_module: Any, backend: str) -> dict[str, Any]:
    """Delegated subgraphs and ops, and the operators left on the CPU, by name with counts.

    ``subgraph_ops`` (OPTIONAL in the contract) lists the operators inside each delegate in graph
    order, so a report can say which piece grew or split.
    """
    from executorch.devtools.backend_debug import get_delegation_info

    info = get_delegation_info(graph_module)
    calls = [n for n in graph_module.graph.nodes if n.op == "call_function"]
    cpu = Counter(name for name in map(_name, (n.target for n in calls)) if not any(k in name for k in _BOOKKEEPING))
    subgraph_ops = []
    for node in calls:
        if _name(node.target) != "executorch_call_delegate":
            continue
        lowered = getattr(graph_module, node.args[0].target)
        inner = lowered.original_module.graph.nodes
        subgraph_ops.append(sum(1 for n in inner if n.op == "call_function" and "getitem" not in _name(n.target)))
    return {
        "backend": backend,
        "delegated_subgraphs": int(info.num_delegated_subgraphs),
        "delegated_ops": int(info.num_delegated_nodes),
        "cpu_ops": dict(sorted(cpu.items())),
        "subgraph_ops": subgraph_ops,
    }


def fragmentation(base: dict[str, Any], head: dict[str, Any]) -> dict[str, Any]:
    """Head's delegation against base's: the alarm fires when head has more delegated subgraphs.

    ``cpu_ops_added`` / ``cpu_ops_removed`` are the per-operator count changes on the CPU, which is
    usually the culprit's name (the LRN case adds ``aten.avg_pool3d.default`` and a quantize /
    dequantize pair around it). Pure: the stage and its tests call it with two delegation blocks.
    """
    b, h = int(base["delegated_subgraphs"]), int(head["delegated_subgraphs"])
    before, after = Counter(base.get("cpu_ops", {})), Counter(head.get("cpu_ops", {}))
    added = dict(sorted((after - before).items()))
    removed = dict(sorted((before - after).items()))
    alarm = h > b
    if alarm:
        ops = ", ".join(f"{name} +{n}" for name, n in added.items()) or "no new CPU operators"
        message = f"fragmented: {b} → {h} delegated subgraphs on {head.get('backend')}; CPU now also runs {ops}"
    elif h < b:
        message = f"fewer delegated subgraphs: {b} → {h} on {head.get('backend')}"
    else:
        message = f"unchanged: {h} delegated subgraph{'s' if h != 1 else ''} on {head.get('backend')}"
    return {
        "alarm": alarm,
        "base_subgraphs": b,
        "head_subgraphs": h,
        "cpu_ops_added": added,
        "cpu_ops_removed": removed,
        "message": message,
    }
