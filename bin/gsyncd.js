#!/usr/bin/env node
// Installed entry point. Sets the exit status instead of calling process.exit() so that
// buffered stdout/stderr (help text, piped output, logs) is flushed before the process ends.
// The forced-command dispatcher starts once per transfer: it skips loading the whole CLI.
const argv = process.argv.slice(2);
if (argv[0] === '--dispatch') {
  const { dispatchMain } = await import('../dist/cli/dispatch-main.js');
  process.exitCode = await dispatchMain(argv.slice(1), process.env);
} else {
  const { main } = await import('../dist/cli/main.js');
  process.exitCode = await main(argv);
}
