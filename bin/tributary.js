#!/usr/bin/env node
// Entry point of the `tributary` command: runs the compiled CLI (npm ci builds it via `prepare`).
import { main } from '../dist/src/main/cli.js';

main(process.argv.slice(2), process.env).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    console.error(err instanceof Error ? err.stack ?? err.message : String(err));
    process.exitCode = 1;
  },
);
