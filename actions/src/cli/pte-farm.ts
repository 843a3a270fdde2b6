#!/usr/bin/env node
// The `pte-farm` bin. Node 24 runs this TypeScript directly (type stripping): no build step.
import { cancelOnSignals } from "../core/cancel.ts";
import { consoleLogger } from "../core/logger.ts";
import { main } from "./main.ts";

cancelOnSignals();
process.exitCode = await main(process.argv.slice(2), consoleLogger);
