/**
 * The FVP command line for a farm device, with the flags ExecuTorch 1.4.1 launches its FVPs with
 * (backends/arm/scripts/run_fvp.sh, backends/arm/test/runner_utils.py): no visualisation, no
 * telnet terminal, UART 0 to stdout, shut down at the runner's end-of-transmission byte, the
 * NPU's MAC count, the runner ELF, and the simulator's own --timelimit. Corstone-300 (Ethos-U55,
 * U65) takes `mps3_board.*` and `ethosu.*` parameters; Corstone-320 (Ethos-U85) nests them under
 * `mps4_board.*` and `mps4_board.subsystem.*`.
 */
import { ConfigurationError } from "../../core/errors.ts";

export interface FvpTarget {
  /** The FVP executable's name as Arm ships it. */
  executable: string;
  corstone: "300" | "320";
  npu: "ethos-u55" | "ethos-u65" | "ethos-u85";
  macs: number;
}

const BOARD = /^corstone-(300|320)-(ethos-u55|ethos-u65|ethos-u85)-(\d+)$/;

/** The FVP for a matrix device's `board` (`corstone-300-ethos-u55-128`, `corstone-320-ethos-u85-256`). */
export function fvpTarget(board: string): FvpTarget {
  const m = BOARD.exec(board);
  if (m === null) {
    throw new ConfigurationError(
      `device board ${board}: the fvp driver needs corstone-<300|320>-<ethos-u55|ethos-u65|ethos-u85>-<MACs>, ` +
        "e.g. corstone-300-ethos-u55-128",
    );
  }
  const corstone = m[1] as "300" | "320";
  const npu = m[2] as FvpTarget["npu"];
  if ((corstone === "320") !== (npu === "ethos-u85")) {
    throw new ConfigurationError(
      `device board ${board}: Corstone-300 carries Ethos-U55/U65, Corstone-320 carries Ethos-U85`,
    );
  }
  const executable =
    corstone === "320"
      ? "FVP_Corstone_SSE-320"
      : `FVP_Corstone_SSE-300_${npu === "ethos-u65" ? "Ethos-U65" : "Ethos-U55"}`;
  return { executable, corstone, npu, macs: Number(m[3]) };
}

/** How the runner gets the `.pte`. */
export type PtePlacement =
  /** The runner reads it from the host over semihosting (`-m FILE`, relative to `cwd`). */
  | { kind: "semihosting"; cwd: string; file: string }
  /** The FVP loads it into memory at `address` (runner built with -DET_MODEL_PTE_ADDR=address). */
  | { kind: "address"; file: string; address: string };

export interface FvpRun {
  target: FvpTarget;
  fvp: string;
  elf: string;
  placement: PtePlacement;
  timeLimitS: number;
}

/** The semihosting command line ExecuTorch's test runner passes (runner_utils.py); the FVP truncates at 256 chars. */
function semihostingCmdLine(file: string): string {
  const line = `executor_runner -m ${file} -o out`;
  if (line.length > 256) throw new Error(`bug: semihosting command line over 256 chars: ${line}`);
  return line;
}

export function fvpArgv(run: FvpRun): string[] {
  const { target, placement } = run;
  const u85 = target.corstone === "320";
  const board = u85 ? "mps4_board" : "mps3_board";
  const cpu = u85 ? "mps4_board.subsystem.cpu0" : "cpu0";
  const c = (param: string) => ["-C", param];
  const argv = [
    run.fvp,
    ...c(`${u85 ? "mps4_board.subsystem.ethosu" : "ethosu"}.num_macs=${target.macs}`),
    ...c(`${board}.visualisation.disable-visualisation=1`),
    ...(u85 ? c("vis_hdlcd.disable_visualisation=1") : []),
    ...c(`${board}.telnetterminal0.start_telnet=0`),
    ...c(`${board}.uart0.out_file=-`),
    ...(u85 ? c(`${board}.uart0.unbuffered_output=1`) : []),
    ...c(`${board}.uart0.shutdown_on_eot=1`),
  ];
  if (placement.kind === "semihosting") {
    argv.push(
      ...c(`${cpu}.semihosting-enable=1`),
      ...c(`${cpu}.semihosting-stack_base=0`),
      ...c(`${cpu}.semihosting-heap_limit=0`),
      ...c(`${cpu}.semihosting-cwd=${placement.cwd}`),
      ...c(`${cpu}.semihosting-cmd_line=${semihostingCmdLine(placement.file)}`),
    );
  }
  argv.push("-a", run.elf);
  if (placement.kind === "address") argv.push("--data", `${placement.file}@${placement.address}`);
  argv.push("--timelimit", String(Math.max(1, Math.floor(run.timeLimitS))));
  return argv;
}

/** `0x70000000`-style addresses, as run.sh accepts for --pte_placement. */
export function checkAddress(address: string): string {
  if (!/^0x[0-9a-fA-F]{1,16}$/.test(address)) {
    throw new ConfigurationError(
      `fvp-pte-address ${JSON.stringify(address)}: expected a hex address like 0x70000000`,
    );
  }
  return address;
}
