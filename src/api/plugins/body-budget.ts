import type { IncomingMessage } from 'node:http';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { isTributaryError } from '../../core/errors.js';
import { BodyBudget } from '../admission.js';

export interface BodyBudgetOptions {
  /** Request body bytes held at once, at most (`--max-body-bytes-in-flight`). */
  readonly capacity: number;
  /** The largest request body (`--body-limit`). */
  readonly bodyLimit: number;
}

/** Longest a request waits for room in the body budget before 503 OVERLOADED (docs/configuration.md). */
export const BODY_WAIT_MS = 30_000;

/**
 * `tributary-body-budget`: request bodies held at once are bounded (see {@link BodyBudget});
 * registered after authorisation, so that a request without a valid key never holds or waits
 * for room. Also reads away what a client still uploads after its body was refused as too
 * large, so that it reads its 413 instead of a reset. The budget's gauges go to /metrics.
 */
const bodyBudget: FastifyPluginAsync<BodyBudgetOptions> = async (app, opts) => {
  const { bodyLimit } = opts;
  const budget = new BodyBudget(opts.capacity, BODY_WAIT_MS);
  app.metrics.watchAdmission(budget);
  app.addHook('onRequest', (req, reply, done) => {
    const headers = req.raw.headers;
    const length = headers['content-length'];
    if (length === undefined && headers['transfer-encoding'] === undefined) return done();
    // Without a declared length, the body may be as large as the limit allows.
    const declared = length === undefined ? bodyLimit : Number(length);
    // An empty body holds nothing; one over the limit is refused unread (413).
    if (!(declared > 0) || declared > bodyLimit) return done();
    const reserved = budget.reserve(declared);
    const res = reply.raw;
    if ('release' in reserved) {
      res.once('close', reserved.release);
      return done();
    }
    const gone = () => reserved.cancel();
    res.once('close', gone);
    reserved.pending.then(
      (release) => {
        res.off('close', gone);
        if (req.raw.socket?.destroyed) return release();
        res.once('close', release);
        done();
      },
      (err: unknown) => {
        res.off('close', gone);
        if (isTributaryError(err, 'OVERLOADED')) void reply.header('retry-after', '1');
        done(err as Error);
      },
    );
  });
  // A body refused as too large is unread, and Node closes such a connection after the answer:
  // a client still uploading would get a reset (EPIPE) instead of the 413. Discard what it is
  // still sending first (a bounded lingering close), so that it reads 413 PAYLOAD_TOO_LARGE.
  app.addHook('onSend', (req, reply, payload, done) => {
    if (reply.statusCode === 413 && !req.raw.complete && !req.raw.readableEnded) return void discardBody(req.raw, bodyLimit).then(() => done(null, payload));
    done(null, payload);
  });
};

export default fp(bodyBudget, { name: 'tributary-body-budget', fastify: '5.x', dependencies: ['tributary-authorization', 'tributary-metrics'] });

/** Longest a refused body is read and discarded before answering, in milliseconds. */
const DISCARD_MAX_MS = 5000;

/**
 * Reads and drops the rest of a request body, at most `4 x limit` bytes (and 64 MiB) and
 * {@link DISCARD_MAX_MS}; never buffers it. Resolves when the body ended or a bound was hit
 * (then the connection is closed after the answer anyway).
 */
function discardBody(raw: IncomingMessage, limit: number): Promise<void> {
  const maxBytes = Math.min(4 * limit, 64 * 1024 * 1024);
  return new Promise<void>((resolve) => {
    let seen = 0;
    const done = () => {
      clearTimeout(timer);
      raw.off('data', onData);
      raw.off('end', done);
      raw.off('error', done);
      raw.off('close', done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) done();
    };
    const timer = setTimeout(done, DISCARD_MAX_MS);
    raw.on('data', onData);
    raw.once('end', done);
    raw.once('error', done);
    raw.once('close', done);
    raw.resume();
  });
}
