#!/usr/bin/env node
// Installed entry point. Sets the exit status instead of calling process.exit() so that
// buffered stdout/stderr (help text, piped output, logs) is flushed before the process ends.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
