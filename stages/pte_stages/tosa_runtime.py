"""Runs a ``.pte`` whose delegates are TOSA flatbuffers, on the host, instruction by instruction.

ExecuTorch has no runtime backend for TOSA: on a board the same graph runs as Vela command streams
on an Ethos-U. Here the ``.pte`` itself is executed: its execution plan is walked in order, each
delegate call runs its TOSA flatbuffer on the TOSA reference model (``tosa_reference_model``, the
bit-accurate functional model of the spec), and each CPU kernel call (the input quantize, the
output dequantize, and whatever the partitioner left on the CPU, e.g. the pooling of a decomposed
LocalResponseNorm) runs PyTorch's functional version of the same operator. So a fragmented graph
runs too, CPU pieces and all, and what is checked is exactly the artefact the lower stage wrote.

Only what these graphs need is supported (kernel and delegate calls, scalar and int-list
arguments, contiguous tensors); anything else is refused by name, never guessed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .contract import StageError

TOSA_BACKEND_ID = "TOSABackend"


def _dtypes() -> dict[int, torch.dtype]:
    from executorch.exir.scalar_type import ScalarType as S

    return {
        S.BYTE: torch.uint8,
        S.CHAR: torch.int8,
        S.SHORT: torch.int16,
        S.INT: torch.int32,
        S.LONG: torch.int64,
        S.FLOAT: torch.float32,
        S.BOOL: torch.bool,
    }


@dataclass
class Run:
    """One execution: the plan's outputs, the INT8 codes behind each dequantized output, and where
    the time went (the TOSA reference model is a functional model: its time is not the NPU's)."""

    outputs: list[torch.Tensor]
    output_codes: list[torch.Tensor | None]
    delegate_s: float = 0.0
    cpu_s: float = 0.0
    cpu_kernels: list[str] = field(default_factory=list)


class TosaProgram:
    """A loaded ``.pte`` (method ``forward``) whose delegates are all ``TOSABackend``."""

    def __init__(self, pte: Path) -> None:
        # The quantized_decomposed kernels the CPU part calls are registered by this import.
        import executorch.exir  # noqa: F401
        from executorch.exir._serialize._program import deserialize_pte_binary

        program = deserialize_pte_binary(pte.read_bytes()).program
        plans = [p for p in program.execution_plan if p.name == "forward"]
        if len(plans) != 1:
            found = [p.name for p in program.execution_plan]
            raise StageError(f"{pte.name}: expected one `forward` method, found {found}")
        self.plan = plans[0]
        self.delegate_data = [d.data for d in program.backend_delegate_data]
        self.dtype = _dtypes()
        others = sorted({d.id for d in self.plan.delegates} - {TOSA_BACKEND_ID})
        if others:
            raise StageError(
                f"{pte.name} has {', '.join(others)} delegates: only TOSA delegates run on the TOSA reference "
                "model (an Ethos-U .pte runs on a Corstone FVP, driver fvp)"
            )
        self._check_values(pte.name)
        self.delegate_inputs = [self._graph_inputs(self._payload(i)) for i in range(len(self.plan.delegates))]

    def _check_values(self, name: str) -> None:
        from executorch.exir import schema as s

        for i, v in enumerate(self.plan.values):
            t = v.val
            if isinstance(t, s.Tensor):
                if list(t.dim_order) != list(range(len(t.sizes))):
                    raise StageError(f"{name}: value {i} has dim order {t.dim_order}; only contiguous tensors run here")
                if t.data_buffer_idx != 0:
                    raise StageError(f"{name}: value {i} is a constant tensor outside a delegate; not supported here")
                if int(t.scalar_type) not in self.dtype:
                    raise StageError(f"{name}: value {i} has scalar type {t.scalar_type!s}, not supported here")

    def _payload(self, index: int) -> bytes:
        ref = self.plan.delegates[index].processed
        return bytes(self.delegate_data[ref.index])

    @staticmethod
    def _graph_inputs(payload: bytes) -> int:
        from tosa.TosaGraph import TosaGraph

        graph = TosaGraph.GetRootAsTosaGraph(payload, 0)
        return int(graph.Regions(0).Blocks(0).InputsLength())

    def _value(self, env: list[Any], index: int) -> Any:
        from executorch.exir import schema as s

        v = self.plan.values[index].val
        if isinstance(v, s.Tensor):
            if env[index] is None:
                raise StageError(f"value {index} is read before any instruction wrote it")
            return env[index]
        if isinstance(v, s.Int):
            return v.int_val
        if isinstance(v, s.Double):
            return float(v.double_val)
        if isinstance(v, s.Bool):
            return v.bool_val
        if isinstance(v, s.Null):
            return None
        if isinstance(v, s.IntList):
            return [self._value(env, j) for j in v.items]
        raise StageError(f"value {index} is a {type(v).__name__}; not supported by the TOSA runner")

    def _kernel(self, env: list[Any], op_index: int, args: list[int], run: Run) -> None:
        op = self.plan.operators[op_index]
        namespace, name = op.name.split("::")
        try:
            fn = getattr(getattr(torch.ops, namespace), name).default
        except AttributeError as exc:
            raise StageError(f"CPU kernel {op.name}.{op.overload} has no PyTorch functional counterpart") from exc
        positional: list[Any] = []
        keywords: dict[str, Any] = {}
        schema = fn._schema.arguments
        for arg, index in zip(schema, args, strict=False):
            value = self._value(env, index)
            if arg.name in ("dtype", "out_dtype") and isinstance(value, int):
                value = self.dtype[value]
            if arg.kwarg_only:
                keywords[arg.name] = value
            else:
                positional.append(value)
        out = args[len(schema)]  # out-variant: the functional arguments, then `out`, then the return
        env[out] = fn(*positional, **keywords)
        if name == "dequantize_per_tensor" and out in self.plan.outputs:
            run.output_codes[self.plan.outputs.index(out)] = positional[0]
        run.cpu_kernels.append(f"{op.name}.{op.overload}")

    def _delegate(self, env: list[Any], delegate_index: int, args: list[int]) -> None:
        import tosa_reference_model as ref
        from executorch.exir import schema as s

        payload = self._payload(delegate_index)
        n_in = self.delegate_inputs[delegate_index]
        inputs = [np.ascontiguousarray(env[i].numpy()) for i in args[:n_in]]
        outputs, status = ref.run(payload, inputs, initialize_variable_tensor_from_numpy=True)
        if status != ref.GraphStatus.TOSA_VALID:
            raise StageError(f"the TOSA reference model rejected delegate {delegate_index}: {status}")
        targets = args[n_in:]
        if len(outputs) != len(targets):
            raise StageError(
                f"delegate {delegate_index} returned {len(outputs)} outputs; the .pte expects {len(targets)}"
            )
        for index, array in zip(targets, outputs, strict=True):
            t = self.plan.values[index].val
            assert isinstance(t, s.Tensor)
            tensor = torch.from_numpy(np.array(array)).to(self.dtype[int(t.scalar_type)])
            if list(tensor.shape) != list(t.sizes):
                raise StageError(f"delegate {delegate_index} output has shape {list(tensor.shape)}, the .pte {t.sizes}")
            env[index] = tensor

    def run(self, inputs: list[torch.Tensor]) -> Run:
        from executorch.exir import schema as s

        if len(inputs) != len(self.plan.inputs):
            raise StageError(f"the program takes {len(self.plan.inputs)} inputs, got {len(inputs)}")
        env: list[Any] = [None] * len(self.plan.values)
        for index, tensor in zip(self.plan.inputs, inputs, strict=True):
            env[index] = tensor.contiguous()
        run = Run(outputs=[], output_codes=[None] * len(self.plan.outputs))
        for instruction in self.plan.chains[0].instructions:
            call = instruction.instr_args
            t0 = time.perf_counter()
            if isinstance(call, s.KernelCall):
                self._kernel(env, call.op_index, call.args, run)
                run.cpu_s += time.perf_counter() - t0
            elif isinstance(call, s.DelegateCall):
                self._delegate(env, call.delegate_index, call.args)
                run.delegate_s += time.perf_counter() - t0
            elif isinstance(call, s.MoveCall):
                env[call.move_to] = env[call.move_from]
            elif isinstance(call, s.FreeCall):
                continue
            else:
                raise StageError(f"instruction {type(call).__name__} (control flow) is not supported here")
        run.outputs = [self._value(env, i) for i in self.plan.outputs]
        return run
