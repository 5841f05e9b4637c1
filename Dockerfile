# syntax=docker/dockerfile:1
# The Fargate task image: the compiled app and its production dependencies on node:24-slim (Node 24 LTS), run as
# the unprivileged "node" user. Every schedule overrides the command, e.g.
#   node dist/functions/entry.js sync --repo-id rhel9-baseos
# and the CLI works too: docker run --rm IMAGE node bin/chantal-run.js repo list
# Build args: BASE_IMAGE (default node:24-slim; scripts/build-image.sh passes a debootstrap-made stand-in where
# nothing can be pulled), RDS_CA_BUNDLE_URL (a URL or a build-context path). Build secret extra_ca: a PEM bundle
# npm ci trusts in addition (a TLS-intercepting proxy); it is mounted for those RUNs only, never in a layer.
#   podman build --secret id=extra_ca,src=/etc/ssl/certs/ca-certificates.crt -t chantal-task .

ARG BASE_IMAGE=node:24-slim

# ---- build: compile TypeScript to dist/ (needs the dev dependencies)
FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: no "prepare" before the sources exist, and no embedded PostgreSQL download step.
RUN --mount=type=secret,id=extra_ca,required=false \
    if [ -s /run/secrets/extra_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra_ca; fi; \
    npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY core ./core
COPY functions ./functions
COPY scripts/bundle-dependencies.mjs ./scripts/
RUN npm run build

# ---- production dependencies only
FROM ${BASE_IMAGE} AS deps
WORKDIR /src
COPY package.json package-lock.json ./
# No dev dependencies; no optional ones either: they are the embedded PostgreSQL binaries (60 MB, the
# cloud uses RDS), pg-cloudflare and type packages. No install script is needed at run time.
RUN --mount=type=secret,id=extra_ca,required=false \
    if [ -s /run/secrets/extra_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra_ca; fi; \
    npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund

# ---- runtime
FROM ${BASE_IMAGE}
# Amazon RDS's CA bundle, which cloud.database.tls: verify-full (the default) checks the database against
# (core/cloud/cloud-config.ts RDS_CA_BUNDLE); a build without internet passes a local copy's URL or file.
ARG RDS_CA_BUNDLE_URL=https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
ADD --chmod=0644 ${RDS_CA_BUNDLE_URL} /etc/ssl/certs/rds-global-bundle.pem
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
