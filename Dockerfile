# syntax=docker/dockerfile:1
#
# Coffer in a container: a build stage (npm ci + tsc, with the compilers the
# better-sqlite3 native addon falls back to), then a slim runtime stage with
# only the compiled server and its production dependencies, run as the
# unprivileged `node` user (uid 1000) with its data on a volume.
#
#   docker build -t coffer .
#   docker run -d --name coffer -p 9000:9000 -v coffer-data:/data coffer
#   docker logs coffer          # the generated root credentials are printed once, at first start
#
# See docs/operations.md (Docker) for the root key, TLS and the health checks.

FROM node:20-bookworm-slim AS build
WORKDIR /src
# better-sqlite3 downloads a prebuilt binary when one matches; otherwise it compiles.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY test ./test
COPY bench ./bench
COPY fuzz ./fuzz
# `npm ci` runs the prepare script (tsc) too: dist/ holds the server, console included.
RUN npm ci && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    COFFER_ADDRESS=0.0.0.0 \
    COFFER_PORT=9000 \
    COFFER_DATA=/data
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
# Coffer wants its data directory private (0700) and owned by the user it runs as.
RUN mkdir -p /data && chown node:node /data && chmod 0700 /data
USER node
VOLUME ["/data"]
EXPOSE 9000
# Liveness: the process answers. (Readiness, /_coffer/health/ready, is for load balancers:
# a node whose database or blob backend is unreachable is alive but not ready.)
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.COFFER_PORT || 9000}/_coffer/health`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM (docker stop) drains in-flight requests for up to COFFER_SHUTDOWN_TIMEOUT_MS (30 s):
# give docker stop a longer timeout (docker stop -t 40) so that it does not SIGKILL first.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["serve"]
