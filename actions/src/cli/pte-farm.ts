#!/usr/bin/env node
// The `pte-farm` bin. Node 24 runs this TypeScript directly (type stripping): no build step.
import { consoleLogger } from "../core/logger.ts";
import { main } from "./main.ts";

process.exitCode = await main(process.argv.slice(2), consoleLogger);
