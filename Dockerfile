# Image of the outbox-relay CLI: `docker run IMAGE` streams the outbox (run), `docker run IMAGE
# migrate` prepares the database, `docker run IMAGE status` prints the slot and checkpoint.
# NOTE: no Docker engine exists on this project's development and CI machines, so this image is
# not built or tested in CI here. Build it with `docker build -t outbox-relay .`.
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
# @confluentinc/kafka-javascript downloads a prebuilt librdkafka binding when one exists for this
# Node.js version and platform, and otherwise compiles librdkafka from the sources it ships: that
# needs python3 (node-gyp), make and g++, plus OpenSSL and zlib headers for TLS, SASL SCRAM and
# compression.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ pkg-config libssl-dev zlib1g-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# Link a source-built librdkafka against the system OpenSSL and zlib. The package's default static
# build downloads their sources during `npm ci` (zlib from zlib.net, for version 1.10.1).
ENV CKJS_LINKING=dynamic
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
# libssl3 for a librdkafka built against the system OpenSSL; ca-certificates for KAFKA_SSL=true.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
# migrate reads the schema files from /app/sql, next to dist/.
COPY sql ./sql
# The node user (uid 1000) comes with the official Node.js images; it owns nothing under /app.
USER node
# The relay listens on 127.0.0.1:8080 unless told otherwise: set HTTP_HOST=0.0.0.0 when probes or
# Prometheus reach it from outside the container.
EXPOSE 8080
# SIGTERM makes the relay commit its open Kafka transaction, acknowledge the slot and exit 0; give
# it time with `docker stop -t 60` or stop_grace_period.
STOPSIGNAL SIGTERM
# Only meaningful for `run` with the HTTP server on (HTTP_PORT other than 0).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["run"]
