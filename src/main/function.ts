/**
 * The deployed Cloud Function's module (package.json `main`): an entry point above the
 * composition root (`runtime.ts`), as the CLI (`cli.ts`) and the server (`server.ts`) are.
 * It registers two functions; the deployment's entry point picks one:
 * - `tributaryIngestPush` (HTTP) for a push subscription, the default delivery of `infra/`;
 * - `tributaryIngest` (CloudEvent) for an Eventarc trigger.
 * Configuration is read from the environment on the first delivery (never at module load), with
 * the same settings as every other process (`--mode gcp` ones).
 *
 * Locally: `npx functions-framework --source=dist/src/main/function.js
 * --target=tributaryIngestPush` (or `--target=tributaryIngest --signature-type=cloudevent`).
 */
import { parseConfig } from '../core/config.js';
import { type FunctionDeps, registerIngestFunction, registerPushFunction } from '../ingest/function.js';
import { createRuntime } from '../runtime.js';

let deps: Promise<FunctionDeps> | undefined;

function instanceDeps(): Promise<FunctionDeps> {
  deps ??= (async () => {
    const { config } = parseConfig([], process.env);
    const runtime = await createRuntime(config);
    return {
      registry: runtime.registry,
      ingest: runtime.ingest,
      topicPrefix: config.pubsubTopicPrefix ?? '',
      onError: (err: unknown, requestId?: string) =>
        console.error(JSON.stringify({ severity: 'WARNING', ...(requestId ? { requestId } : {}), message: `delivery refused: ${err instanceof Error ? err.message : String(err)}` })),
    };
  })().catch((err: unknown) => {
    deps = undefined; // a failed cold start is retried by the next delivery
    throw err;
  });
  return deps;
}

registerIngestFunction('tributaryIngest', instanceDeps);
registerPushFunction('tributaryIngestPush', instanceDeps);
