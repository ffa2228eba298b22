/** Log options of the HTTP server. */
import type { Config } from '../core/config.js';

/** Cloud Logging severities of pino's levels. */
const SEVERITY: Record<string, string> = { trace: 'DEBUG', debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR', fatal: 'CRITICAL' };

/**
 * pino options for structured JSON logs that Cloud Logging understands: `severity`, `message`,
 * an RFC 3339 `time`; request lines carry `reqId` (and the trace, see app.ts).
 */
export function loggerOptions(config: Config) {
  return {
    level: config.logLevel,
    messageKey: 'message',
    formatters: { level: (label: string) => ({ severity: SEVERITY[label] ?? 'DEFAULT', level: label }) },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
  };
}
