import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { TributaryError } from '../../core/errors.js';
import { type ApiKeyEntry, type AuthContext, KeyStore, presentedToken } from '../auth.js';

/** Who may call a route: see docs/auth.md. */
export type RouteScope = 'public' | 'any' | 'read' | 'write' | 'admin';

declare module 'fastify' {
  interface FastifyRequest {
    /** What the request's API key may do; undefined without a key, absent for an invalid one. */
    auth?: AuthContext;
    /** True when the request presented a token that matches no key. */
    authInvalid?: boolean;
  }
  interface FastifyContextConfig {
    /** Who may call the route (default public). */
    scope?: RouteScope;
  }
}

export interface AuthenticationOptions {
  /** Hashed API keys; empty for open mode (loopback only unless allowed, see `checkExposure`). */
  readonly keys?: readonly ApiKeyEntry[];
}

/**
 * `tributary-authentication`: reads the request's API key (`Authorization: Bearer` or
 * `X-API-Key`) and sets `req.auth`. Refuses nothing by itself: the rate limit counts the
 * request first, then `tributary-authorization` checks the route's scope.
 */
const authenticationPlugin: FastifyPluginAsync<AuthenticationOptions> = async (app, opts) => {
  const keys = new KeyStore(opts.keys ?? []);
  app.decorateRequest('auth', undefined);
  app.decorateRequest('authInvalid', false);
  app.addHook('onRequest', (req, _reply, done) => {
    const auth = keys.authenticate(presentedToken(req.headers));
    if (auth) req.auth = auth;
    else if (auth === null) req.authInvalid = true;
    done();
  });
};

/**
 * `tributary-authorization`: refuses a request the route's scope (`config.scope`, default
 * public) does not allow: 401 UNAUTHENTICATED without a valid key, 403 FORBIDDEN without the scope.
 */
const authorizationPlugin: FastifyPluginAsync = async (app) => {
  app.addHook('onRequest', (req, reply, done) => {
    const scope: RouteScope = req.routeOptions.config?.scope ?? 'public';
    if (scope === 'public') return done();
    const auth = req.auth;
    if (!auth) {
      void reply.header('www-authenticate', 'Bearer realm="tributary"');
      return done(new TributaryError('UNAUTHENTICATED', req.authInvalid ? 'the API key is not valid' : 'this route needs an API key: send Authorization: Bearer <key>'));
    }
    const stream = (req.params as { stream?: string } | undefined)?.stream ?? '';
    const ok =
      scope === 'any' ||
      (scope === 'read' && auth.canRead(stream)) ||
      (scope === 'write' && auth.canWrite(stream)) ||
      (scope === 'admin' && auth.isAdmin);
    if (!ok) {
      const needed = scope === 'admin' ? 'admin' : `${scope}:${stream}`;
      return done(new TributaryError('FORBIDDEN', `the API key "${auth.keyId ?? ''}" lacks the scope ${needed}`, { needed }));
    }
    done();
  });
};

export const authentication = fp(authenticationPlugin, { name: 'tributary-authentication', fastify: '5.x', dependencies: ['tributary-errors'] });
export const authorization = fp(authorizationPlugin, { name: 'tributary-authorization', fastify: '5.x', dependencies: ['tributary-authentication'] });
