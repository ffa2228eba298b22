/**
 * The `tributary` command (`bin/tributary.js` runs it). `main(argv, env)` is pure of globals
 * except stdio and signals, so tests call it directly. An entry point: it sits above the
 * composition root (`runtime.ts`), with the server (`server.ts`) and the Cloud Function
 * (`function.ts`).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseConfig, settingsHelp } from '../core/config.js';
import { isTributaryError } from '../core/errors.js';
import { bigQueryDeadLetterSchema, bigQueryTableSchema, messageJsonSchema } from '../core/export.js';
import { WarehouseError } from '../core/ports.js';
import { loadStreams } from '../core/schema.js';
import { createKey } from '../api/auth.js';
import { createRuntime } from '../runtime.js';
import { startServer } from './server.js';

const USAGE = `tributary: ingest messages, store them, serve them over HTTP

Usage:
  tributary dev [settings]                 run the embedded default: topic + ingest + DuckDB + API
  tributary serve [settings]               the same (the container's command)
  tributary worker [settings]              gcp mode: run ingest from the Pub/Sub pull subscriptions
                                           <topic prefix><stream><subscription suffix>
  tributary publish <stream> <file|-> [--url URL] [--batch-size N]
                                           publish NDJSON messages (one JSON object per line)
  tributary query <stream> [--url URL] [--from T] [--to T] [--limit N] [--order asc|desc]
                           [--where field=value ...] [--all]
                                           print stored rows as NDJSON; --where takes the API's
                                           filters: seq__gte=10, device_id__in=a,b, ok__isnull=true
  tributary schema export [stream ...] [--format bigquery|json-schema] [--out DIR] [--streams-dir DIR]
                                           print or write the schemas derived from stream definitions
  tributary keys create <id> <scope> [<scope> ...]
                                           make an API key: prints the key (give it to the client)
                                           and the hashed entry for the keys file (see docs/auth.md);
                                           scopes: admin, read:<stream>, read:*, write:<stream>, write:*
  tributary help

Settings (flag, environment variable, default):
${settingsHelp()}

--url defaults to $TRIBUTARY_URL or http://127.0.0.1:8080. publish and query send the API key
in $TRIBUTARY_API_KEY, if set.
`;

/** Runs the CLI; resolves with the exit code. */
export async function main(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'dev':
      case 'serve':
        return await serve(rest, env);
      case 'worker':
        return await worker(rest, env);
      case 'publish':
        return await publish(rest, env);
      case 'query':
        return await query(rest, env);
      case 'schema':
        return await schema(rest, env);
      case 'keys':
        return keys(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`tributary: unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (isTributaryError(err, 'INVALID_CONFIG', 'INVALID_STREAM_DEFINITION', 'INVALID_REQUEST')) {
      process.stderr.write(`tributary: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

async function serve(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<number> {
  const { config, positionals } = parseConfig(argv, env);
  if (positionals.length > 0) {
    process.stderr.write(`tributary: unexpected argument ${JSON.stringify(positionals[0])}\n`);
    return 2;
  }
  let server;
  try {
    server = await startServer(config);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      const why = code === 'EADDRINUSE' ? 'is already in use' : code === 'EACCES' ? 'needs privileges this process lacks' : 'is not an address of this machine';
      process.stderr.write(`tributary: cannot listen on ${config.host}:${config.port}: it ${why}; choose another with --host/--port (or TRIBUTARY_HOST/TRIBUTARY_PORT)\n`);
      return 2;
    }
    if (err instanceof WarehouseError) {
      process.stderr.write(`tributary: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const streams = server.runtime.registry.all().map((s) => s.name);
  const storage = config.mode === 'gcp' ? `BigQuery dataset ${config.gcpProject}.${config.bigqueryDataset}, Pub/Sub topics ${config.pubsubTopicPrefix}<stream>` : config.dataDir;
  server.app.log.info({ url: server.url, streams, mode: config.mode, storage }, `Tributary listening on ${server.url}`);
  process.stderr.write(
    `\nTributary is running on ${server.url} (streams: ${streams.join(', ')}; data in ${storage})\n` +
      `  publish: npx tributary publish ${streams[0]} examples/${streams[0]}.ndjson\n` +
      `  read:    curl '${server.url}/v1/streams/${streams[0]}/rows?limit=5'\n` +
      '  stop:    Ctrl-C (every queued message is written before exit)\n\n',
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      server.app.log.info({ signal }, 'shutting down');
      server.close().then(resolve, (err: unknown) => {
        server.app.log.error({ err }, 'error during shutdown');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

async function worker(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<number> {
  const { config, positionals } = parseConfig(argv, env);
  if (positionals.length > 0) {
    process.stderr.write(`tributary: unexpected argument ${JSON.stringify(positionals[0])}\n`);
    return 2;
  }
  if (config.mode !== 'gcp') {
    process.stderr.write('tributary worker: needs --mode gcp (TRIBUTARY_MODE=gcp); the embedded topic feeds ingest in-process already\n');
    return 2;
  }
  const runtime = await createRuntime(config, {
    onWriteError: (stream, err, willRetry) => process.stderr.write(`tributary worker: ${stream}: write failed (${willRetry ? 'retrying' : 'nacked'}): ${(err as Error).message}\n`),
  });
  const { startPullWorker } = await import('../topic/pubsub/worker.js');
  const pull = startPullWorker(runtime.pubsub!, runtime.registry, runtime.ingest, {
    topicPrefix: config.pubsubTopicPrefix ?? '',
    subscriptionSuffix: config.pubsubSubscriptionSuffix,
    maxOutstanding: config.batchMaxRows,
    onError: (stream, err) => process.stderr.write(`tributary worker: ${stream}: ${(err as Error).message}\n`),
  });
  process.stderr.write(`tributary worker: pulling ${[...pull.subscriptions.values()].join(', ')}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await pull.close();
  await runtime.close();
  return 0;
}

/** Minimal flag parsing for the client commands: `--name value`, `--name=value`, repeatable. */
function clientFlags(argv: readonly string[], known: readonly string[], booleans: readonly string[] = []) {
  const flags = new Map<string, string[]>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    if (booleans.includes(name)) {
      flags.set(name, ['true']);
      continue;
    }
    if (!known.includes(name)) throw usageError(`unknown option --${name}`);
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw usageError(`--${name} needs a value`);
    flags.set(name, [...(flags.get(name) ?? []), value]);
  }
  return { flags, positionals };
}

function authHeader(key: string | undefined): Record<string, string> {
  return key ? { authorization: `Bearer ${key}` } : {};
}

/** `tributary keys create <id> <scope>...`: a new key and its hashed keys-file entry. */
function keys(argv: readonly string[]): number {
  const [sub, id, ...scopes] = argv;
  if (sub !== 'create' || !id || scopes.length === 0) {
    process.stderr.write('usage: tributary keys create <id> <scope> [<scope> ...]   (scopes: admin, read:<stream>, read:*, write:<stream>, write:*)\n');
    return 2;
  }
  try {
    const { token, entry } = createKey(id, scopes);
    process.stdout.write(`${JSON.stringify({ key: token, entry })}\n`);
    process.stderr.write(`Give the client the key (shown once). Add the entry to the "keys" list of the keys file (--api-keys-file).\n`);
    return 0;
  } catch (err) {
    if (isTributaryError(err)) {
      process.stderr.write(`tributary: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

class UsageError extends Error {}
function usageError(message: string): UsageError {
  return new UsageError(message);
}

function baseUrl(flags: Map<string, string[]>, env: Readonly<Record<string, string | undefined>>): string {
  return (flags.get('url')?.[0] ?? env.TRIBUTARY_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
}

interface PublishResponse {
  messageIds: string[];
  counts: Record<string, number>;
  results: { messageId: string; status: string; reason?: string; detail?: string }[];
}

async function postWithRetry(url: string, body: string, apiKey: string | undefined): Promise<PublishResponse> {
  let delay = 200;
  for (let attempt = 1; ; attempt++) {
    let res: Response | undefined;
    try {
      res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeader(apiKey) }, body });
    } catch (err) {
      if (attempt >= 8) throw new Error(`cannot reach ${url}: ${(err as Error).message} (is \`tributary dev\` running?)`);
    }
    if (res) {
      const text = await res.text();
      if (res.ok) return JSON.parse(text) as PublishResponse;
      if (res.status !== 503 && res.status !== 429) throw new Error(`publish failed (${res.status}): ${text}`);
      if (attempt >= 8) throw new Error(`publish kept failing (${res.status}): ${text}`);
    }
    // Safe to resend: every message carries a messageId, so a batch stored twice is stored once.
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 5000);
  }
}

async function publish(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<number> {
  let parsed;
  try {
    parsed = clientFlags(argv, ['url', 'batch-size']);
  } catch (err) {
    process.stderr.write(`tributary publish: ${(err as Error).message}\n`);
    return 2;
  }
  const { flags, positionals } = parsed;
  const [stream, file] = positionals;
  if (!stream || !file || positionals.length > 2) {
    process.stderr.write('usage: tributary publish <stream> <file.ndjson|-> [--url URL] [--batch-size N]\n');
    return 2;
  }
  const batchSize = Number(flags.get('batch-size')?.[0] ?? 500);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1000) {
    process.stderr.write('tributary publish: --batch-size must be a whole number from 1 to 1000\n');
    return 2;
  }
  const url = `${baseUrl(flags, env)}/v1/streams/${encodeURIComponent(stream)}/messages`;
  const input = file === '-' ? process.stdin : createReadStream(file);
  const lines = createInterface({ input, crlfDelay: Infinity });
  // Message IDs chosen here make retries idempotent: a resent batch is not stored twice.
  const run = randomBytes(6).toString('hex');
  const totals: Record<string, number> = { published: 0, stored: 0, duplicate: 0, dead_lettered: 0, accepted: 0 };
  const reasons: Record<string, number> = {};
  let batch: { data: string; messageId: string }[] = [];
  let lineNo = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const res = await postWithRetry(url, JSON.stringify({ messages: batch }), env.TRIBUTARY_API_KEY);
    totals.published! += batch.length;
    for (const [k, v] of Object.entries(res.counts)) totals[k] = (totals[k] ?? 0) + v;
    for (const r of res.results) {
      if (r.status === 'dead_lettered') {
        reasons[r.reason ?? 'UNKNOWN'] = (reasons[r.reason ?? 'UNKNOWN'] ?? 0) + 1;
        process.stderr.write(`line ${r.messageId.split('-').pop()}: dead-lettered ${r.reason}: ${r.detail}\n`);
      }
    }
    batch = [];
  };
  for await (const line of lines) {
    lineNo++;
    if (line.trim() === '') continue;
    batch.push({ data: Buffer.from(line, 'utf8').toString('base64'), messageId: `cli-${run}-${lineNo}` });
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  process.stdout.write(`${JSON.stringify({ ...totals, deadLetterReasons: reasons })}\n`);
  return 0;
}

async function query(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<number> {
  let parsed;
  try {
    parsed = clientFlags(argv, ['url', 'from', 'to', 'limit', 'order', 'where'], ['all']);
  } catch (err) {
    process.stderr.write(`tributary query: ${(err as Error).message}\n`);
    return 2;
  }
  const { flags, positionals } = parsed;
  const [stream] = positionals;
  if (!stream || positionals.length > 1) {
    process.stderr.write('usage: tributary query <stream> [--from T] [--to T] [--limit N] [--order asc|desc] [--where field=value ...] [--all]\n');
    return 2;
  }
  const params = new URLSearchParams();
  for (const k of ['from', 'to', 'limit', 'order']) {
    const v = flags.get(k)?.[0];
    if (v !== undefined) params.set(k, v);
  }
  for (const w of flags.get('where') ?? []) {
    const eq = w.indexOf('=');
    if (eq <= 0) {
      process.stderr.write(`tributary query: --where expects field=value, got ${JSON.stringify(w)}\n`);
      return 2;
    }
    params.append(w.slice(0, eq), w.slice(eq + 1));
  }
  const base = baseUrl(flags, env);
  let next: string | null = `/v1/streams/${encodeURIComponent(stream)}/rows?${params.toString()}`;
  while (next) {
    let res: Response;
    try {
      res = await fetch(base + next, { headers: authHeader(env.TRIBUTARY_API_KEY) });
    } catch (err) {
      process.stderr.write(`tributary query: cannot reach ${base}: ${(err as Error).message}\n`);
      return 1;
    }
    const body = (await res.json()) as { rows?: unknown[]; next?: string | null; error?: { code: string; message: string } };
    if (!res.ok) {
      process.stderr.write(`tributary query: ${body.error?.code ?? res.status}: ${body.error?.message ?? ''}\n`);
      return 1;
    }
    for (const row of body.rows ?? []) process.stdout.write(`${JSON.stringify(row)}\n`);
    next = flags.has('all') ? (body.next ?? null) : null;
  }
  return 0;
}

async function schema(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'export') {
    process.stderr.write('usage: tributary schema export [stream ...] [--format bigquery|json-schema] [--out DIR] [--streams-dir DIR]\n');
    return 2;
  }
  const { config, positionals } = parseConfig(rest, env, ['--format', '--out']);
  const opts = clientFlags(positionals, ['format', 'out']);
  const format = opts.flags.get('format')?.[0] ?? 'bigquery';
  if (format !== 'bigquery' && format !== 'json-schema') {
    process.stderr.write(`tributary schema export: --format must be bigquery or json-schema, got ${JSON.stringify(format)}\n`);
    return 2;
  }
  const registry = await loadStreams(config.streamsDir);
  const streams = opts.positionals.length > 0 ? opts.positionals.map((n) => registry.get(n)) : registry.all();
  const files: [string, unknown][] = [];
  for (const s of streams) {
    if (format === 'bigquery') {
      files.push([`${s.name}.json`, bigQueryTableSchema(s)], [`${s.name}_dead_letters.json`, bigQueryDeadLetterSchema()]);
    } else {
      files.push([`${s.name}.schema.json`, messageJsonSchema(s)]);
    }
  }
  const out = opts.flags.get('out')?.[0];
  if (out) {
    await mkdir(out, { recursive: true });
    for (const [name, content] of files) await writeFile(join(out, name), `${JSON.stringify(content, null, 2)}\n`);
    process.stderr.write(`wrote ${files.map(([n]) => join(out, n)).join(', ')}\n`);
  } else if (files.length === 1 || (format === 'bigquery' && streams.length === 1)) {
    process.stdout.write(`${JSON.stringify(files[0]![1], null, 2)}\n`);
  } else {
    process.stdout.write(`${JSON.stringify(Object.fromEntries(files), null, 2)}\n`);
  }
  return 0;
}
