/**
 * API keys and scopes. A key is `trb_<id>_<secret>` with a random 256-bit secret; the server
 * keeps only `sha256(key)` (a fast hash is enough for secrets of that entropy, as for other
 * services' tokens), in a keys file or an environment variable:
 *
 * ```json
 * {"keys": [{"id": "dashboard", "sha256": "<hex>", "scopes": ["read:*"]}]}
 * ```
 *
 * Scopes: `read:<stream>` / `read:*`, `write:<stream>` / `write:*`, `admin` (everything,
 * including dead-letter replay and /metrics).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { Config } from '../core/config.js';
import { TributaryError } from '../core/errors.js';

/** One configured key (hashed). */
export interface ApiKeyEntry {
  readonly id: string;
  readonly sha256: Buffer;
  readonly scopes: readonly string[];
}

/** What a request may do. */
export interface AuthContext {
  /** The key's id, or null for an anonymous request (open mode). */
  readonly keyId: string | null;
  canRead(stream: string): boolean;
  canWrite(stream: string): boolean;
  readonly isAdmin: boolean;
}

const KEY_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const SCOPE = /^(admin|(read|write):(\*|[a-z][a-z0-9_]{0,62}))$/;
const TOKEN = /^trb_([a-z0-9][a-z0-9-]{0,62})_([A-Za-z0-9_-]{20,128})$/;

/** Parses the keys JSON (file or environment); throws INVALID_CONFIG listing every problem. */
export function parseKeys(text: string, source: string): ApiKeyEntry[] {
  const problems: string[] = [];
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new TributaryError('INVALID_CONFIG', `${source}: not valid JSON: ${(err as Error).message}`);
  }
  const list = typeof raw === 'object' && raw !== null && Array.isArray((raw as { keys?: unknown }).keys) ? (raw as { keys: unknown[] }).keys : undefined;
  if (!list) throw new TributaryError('INVALID_CONFIG', `${source}: expected {"keys": [{"id": ..., "sha256": ..., "scopes": [...]}]}`);
  const out: ApiKeyEntry[] = [];
  const ids = new Set<string>();
  list.forEach((k, i) => {
    const at = `${source}: keys[${i}]`;
    const e = k as { id?: unknown; sha256?: unknown; scopes?: unknown };
    if (typeof e !== 'object' || e === null) return problems.push(`${at}: must be an object`);
    if (typeof e.id !== 'string' || !KEY_ID.test(e.id)) return problems.push(`${at}.id: lowercase letters, digits and -, at most 63`);
    if (ids.has(e.id)) problems.push(`${at}.id: "${e.id}" appears twice`);
    ids.add(e.id);
    if (typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256)) return problems.push(`${at}.sha256: 64 lowercase hex digits (tributary keys create prints it)`);
    if (!Array.isArray(e.scopes) || e.scopes.length === 0 || !e.scopes.every((s) => typeof s === 'string' && SCOPE.test(s))) {
      return problems.push(`${at}.scopes: a non-empty list of admin, read:<stream>, read:*, write:<stream>, write:*`);
    }
    out.push({ id: e.id, sha256: Buffer.from(e.sha256, 'hex'), scopes: e.scopes as string[] });
    return undefined;
  });
  if (problems.length > 0) throw new TributaryError('INVALID_CONFIG', `invalid API keys:\n  - ${problems.join('\n  - ')}`, { problems });
  return out;
}

/** Loads the keys of the configuration (file and inline), or an empty list (open mode). */
export async function loadKeys(config: Config): Promise<ApiKeyEntry[]> {
  const keys: ApiKeyEntry[] = [];
  if (config.apiKeysFile) {
    let text: string;
    try {
      text = await readFile(config.apiKeysFile, 'utf8');
    } catch (err) {
      throw new TributaryError('INVALID_CONFIG', `--api-keys-file: cannot read ${config.apiKeysFile}: ${(err as Error).message}`);
    }
    keys.push(...parseKeys(text, config.apiKeysFile));
  }
  if (config.apiKeys) keys.push(...parseKeys(config.apiKeys, 'TRIBUTARY_API_KEYS'));
  return keys;
}

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/**
 * The start-up rule: without keys, serve only on loopback unless explicitly allowed
 * (for example behind Cloud Run IAM).
 */
export function checkExposure(config: Config, keys: readonly ApiKeyEntry[]): void {
  if (keys.length === 0 && !isLoopback(config.host) && !config.allowUnauthenticated) {
    throw new TributaryError(
      'INVALID_CONFIG',
      `refusing to serve without API keys on ${config.host} (not a loopback address): configure keys with --api-keys-file or TRIBUTARY_API_KEYS, ` +
        'bind 127.0.0.1, or set --allow-unauthenticated true when something else authenticates (Cloud Run IAM)',
    );
  }
}

/** Creates a new key: the token to give the client, and the entry for the keys file. */
export function createKey(id: string, scopes: readonly string[]): { token: string; entry: { id: string; sha256: string; scopes: string[] } } {
  if (!KEY_ID.test(id)) throw new TributaryError('INVALID_PARAMETER', 'key id: lowercase letters, digits and -, at most 63');
  for (const s of scopes) if (!SCOPE.test(s)) throw new TributaryError('INVALID_PARAMETER', `scope ${JSON.stringify(s)}: expected admin, read:<stream>, read:*, write:<stream> or write:*`);
  if (scopes.length === 0) throw new TributaryError('INVALID_PARAMETER', 'give at least one scope');
  const token = `trb_${id}_${randomBytes(32).toString('base64url')}`;
  return { token, entry: { id, sha256: createHash('sha256').update(token).digest('hex'), scopes: [...scopes] } };
}

const OPEN: AuthContext = { keyId: null, canRead: () => true, canWrite: () => true, isAdmin: true };

function contextOf(k: ApiKeyEntry): AuthContext {
  const admin = k.scopes.includes('admin');
  const has = (verb: string, stream: string) => admin || k.scopes.includes(`${verb}:*`) || k.scopes.includes(`${verb}:${stream}`);
  return { keyId: k.id, canRead: (s) => has('read', s), canWrite: (s) => has('write', s), isAdmin: admin };
}

/** Verifies presented tokens against the configured keys. */
export class KeyStore {
  private readonly byId: ReadonlyMap<string, ApiKeyEntry>;
  constructor(keys: readonly ApiKeyEntry[]) {
    this.byId = new Map(keys.map((k) => [k.id, k]));
  }

  /** True when keys are configured (requests must carry one). */
  get enabled(): boolean {
    return this.byId.size > 0;
  }

  /**
   * The context of a request: OPEN when no keys are configured; undefined for no token;
   * null for a token that matches no key.
   */
  authenticate(token: string | undefined): AuthContext | undefined | null {
    if (!this.enabled) return OPEN;
    if (token === undefined) return undefined;
    const m = TOKEN.exec(token);
    const k = m ? this.byId.get(m[1]!) : undefined;
    if (!k) return null;
    const digest = createHash('sha256').update(token).digest();
    return timingSafeEqual(digest, k.sha256) ? contextOf(k) : null;
  }
}

/** The token of a request: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function presentedToken(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1] : auth;
  }
  const x = headers['x-api-key'];
  return typeof x === 'string' ? x : undefined;
}
