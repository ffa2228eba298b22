# syntax=docker/dockerfile:1
# The Tributary API image for Cloud Run (cloudbuild.yaml builds and deploys it).
# Two stages: `build` compiles the TypeScript with all dependencies; the runtime
# stage has production dependencies only, the compiled output, and runs as the
# unprivileged `node` user. test/infra/container.test.ts runs this image's CMD
# against the built output, with this image's ENV, and checks it serves /healthz on
# $PORT on 0.0.0.0 and exits cleanly on SIGTERM.

FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are copied, and the
# `node` dev dependency (a Node binary for the CI machines) is not needed here.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY web ./web
# The API, then the web console's assets (dist/web), which the API serves at /.
RUN node node_modules/typescript/bin/tsc -p tsconfig.json \
    && node node_modules/typescript/bin/tsc -p web/tsconfig.json \
    && node node_modules/vite/bin/vite.js build web

FROM node:22-bookworm-slim AS runtime
# checkov:skip=CKV_DOCKER_2: Cloud Run ignores HEALTHCHECK; infra/modules/api configures its startup (/readyz) and liveness (/healthz) probes instead.
ENV NODE_ENV=production \
    TRIBUTARY_HOST=0.0.0.0 \
    TRIBUTARY_DATA_DIR=/tmp/tributary
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/web ./dist/web
COPY bin ./bin
COPY streams ./streams
# The image's unprivileged `node` user, by number so Kubernetes-style runtimes can
# check it is not root.
USER 1000:1000
# Cloud Run sets PORT (8080 by default); the server reads it and binds 0.0.0.0.
EXPOSE 8080
CMD ["node", "bin/tributary.js", "serve"]
