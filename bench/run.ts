/**
 * `npm run bench -- [name ...] [--full]`: runs the named benchmarks (default: all) one after
 * another, each in its own process. Profiles: short (default, seconds; CI runs it) and full.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './lib.js';

const ALL = ['ingest', 'reads', 'function', 'aggregate', 'mixed', 'peer'];
const names = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const unknown = names.filter((n) => !ALL.includes(n));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark ${unknown.join(', ')}; known: ${ALL.join(', ')}\n`);
  process.exit(2);
}
let failed = 0;
for (const name of names.length > 0 ? names : ALL) {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'bench', `${name}.js`), ...process.argv.slice(2).filter((a) => a.startsWith('--'))], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed > 0 ? 1 : 0);
