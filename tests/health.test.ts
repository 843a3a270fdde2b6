/**
 * The health check's decisions (the checks themselves run against this host in
 * actions-local-action.test.ts): LAVA's states from check results, and the pins it compares.
 */
import { describe, expect, it } from "vitest";
import {
  type CheckResult,
  checkHealth,
  type HealthCheck,
  parsePins,
  stateOf,
} from "../actions/src/health.ts";
import { tempDir } from "./helpers/env.ts";

const check = (status: CheckResult["status"]): CheckResult => ({ name: status, status, detail: "" });

describe("runner health", () => {
  it("is good only when every check passes; a failed check is bad even beside one that could not run", () => {
    expect(stateOf([check("pass"), check("pass")], null)).toBe("good");
    expect(stateOf([check("pass"), check("unknown")], null)).toBe("unknown");
    expect(stateOf([check("unknown"), check("fail")], null)).toBe("bad");
  });

  it("is in maintenance whenever a person said so, whatever the checks found", () => {
    expect(stateOf([check("pass")], "reflashing")).toBe("maintenance");
    expect(stateOf([check("fail")], "reflashing")).toBe("maintenance");
  });

  it("counts a check that throws as unknown, with its error, instead of crashing the report", async () => {
    const broken: HealthCheck = {
      name: "thermal",
      run: async () => {
        throw new Error("no /sys/class/thermal");
      },
    };
    const fine: HealthCheck = { name: "disk", run: async () => ({ status: "pass", detail: "ok" }) };
    const ctx = {
      python: "python3",
      pinsFile: "",
      diskPath: await tempDir(),
      minFreeDiskMb: 0,
      minFreeMemoryMb: 0,
      maintenanceFile: null,
    };
    const report = await checkHealth(ctx, { device: "pi5", toolchain: "stable" }, [fine, broken]);
    expect(report.state).toBe("unknown");
    expect(report.checks[1]).toEqual({
      name: "thermal",
      status: "unknown",
      detail: "the check failed to run: Error: no /sys/class/thermal",
    });
  });

  it("reads exact pins from a requirements file, by normalised name, ignoring comments and ranges", () => {
    const pins = parsePins(
      "# the stable toolchain\nexecutorch==1.4.1\nTorch_AO == 0.18.0  # inline comment\nnumpy>=2\n\ntransformers==5.23.0 ; python_version>='3.11'\n",
    );
    expect(Object.fromEntries(pins)).toEqual({
      executorch: "1.4.1",
      "torch-ao": "0.18.0",
      transformers: "5.23.0",
    });
  });
});
