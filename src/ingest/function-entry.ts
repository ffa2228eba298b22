/**
 * The deployed Cloud Function's entry point (package.json `main`): registers the CloudEvent
 * function `tributaryIngest`. Configuration is read from the environment on the first event
 * (never at module load), with the same settings as every other process (`--mode gcp` ones).
 *
 * Locally: `npx functions-framework --source=dist/src/ingest/function-entry.js
 * --target=tributaryIngest --signature-type=cloudevent`.
 */
import { parseConfig } from '../core/config.js';
import { createRuntime } from '../runtime.js';
import { type FunctionDeps, registerIngestFunction } from './function.js';

let deps: Promise<FunctionDeps> | undefined;

function instanceDeps(): Promise<FunctionDeps> {
  deps ??= (async () => {
    const { config } = parseConfig([], process.env);
    const runtime = await createRuntime(config);
    return {
      registry: runtime.registry,
      ingest: runtime.ingest,
      topicPrefix: config.pubsubTopicPrefix ?? '',
      onError: (err: unknown) => console.error(JSON.stringify({ severity: 'WARNING', message: `delivery refused: ${err instanceof Error ? err.message : String(err)}` })),
    };
  })().catch((err: unknown) => {
    deps = undefined; // a failed cold start is retried by the next delivery
    throw err;
  });
  return deps;
}

registerIngestFunction('tributaryIngest', instanceDeps);
