# syntax=docker/dockerfile:1
# The Fargate task image: the compiled app and its production dependencies on node:24-slim (Node 24 LTS), run as
# the unprivileged "node" user. Every schedule overrides the command, e.g.
#   node dist/functions/entry.js sync --repo-id rhel9-baseos
# and the CLI works too: docker run --rm IMAGE node bin/chantal-run.js repo list
# Expected size (an estimate: no Docker engine where this was written): about 280 MB unpacked, ~85 MB
# compressed in ECR = node:24-slim (~220 MB / ~70 MB, estimated from node:20-slim + the larger Node 24 binary)
# + 59 MB of production node_modules (12 MB gzipped) + 1.6 MB of dist/. See .notes/8-readme.md.

# ---- build: compile TypeScript to dist/ (needs the dev dependencies)
FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: no "prepare" before the sources exist, and no embedded PostgreSQL download step.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY core ./core
COPY functions ./functions
RUN npm run build

# ---- production dependencies only
FROM node:24-slim AS deps
WORKDIR /src
COPY package.json package-lock.json ./
# No dev dependencies; no optional ones either: they are the embedded PostgreSQL binaries (60 MB, the
# cloud uses RDS), pg-cloudflare and type packages. No install script is needed at run time.
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund

# ---- runtime
FROM node:24-slim
ENV NODE_ENV=production \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \
    CHANTAL_CONFIG_DIR=/var/lib/chantal/config
WORKDIR /app
# The app is owned by root and read-only for the process; only /var/lib/chantal is writable.
COPY package.json ./
COPY bin/chantal-run.js ./bin/chantal-run.js
COPY core/db/migrations ./core/db/migrations
COPY --from=deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
RUN mkdir -p /var/lib/chantal/config && chown -R node:node /var/lib/chantal
USER node
CMD ["node", "bin/chantal-run.js", "--help"]
