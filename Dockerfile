# authlog: the TypeScript sources run through tsx (a runtime dependency), so there is no
# compile step; the build stage only installs the production dependencies, compiling
# better-sqlite3's native addon when no prebuilt binary fits.
#
#   docker build -t authlog .
#   docker run -p 8102:8102 -v authlog-data:/data authlog      # embedded mode: SQLite in /data
#
# With EVENTSTORE_URL and REDIS_URL set (see docker-compose.yml) /data stays unused.

# Node 26: the active LTS line since October 2026, the one supported longest of the versions CI
# runs the suite on (20, 24, 26). Bookworm: the Debian of the machines the suite passes on.
ARG NODE_IMAGE=node:26-bookworm-slim

# ---- build: production node_modules --------------------------------------------------------
FROM ${NODE_IMAGE} AS build
# Needed only when better-sqlite3 has to compile its addon (node-gyp); never in the final image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# The package files first, so that a change to the sources reuses the cached install layer.
COPY package.json package-lock.json ./
# --omit=dev: tsx is in "dependencies", so `node bin/authlog.mjs serve` needs nothing else.
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force
# At run time better-sqlite3 loads only build/Release/better_sqlite3.node: drop its bundled SQLite
# sources and, when it was compiled here, the object files (about 25 MB). Fails if the addon is missing.
RUN cd node_modules/better-sqlite3 \
 && mv build/Release/better_sqlite3.node /tmp/ \
 && rm -rf build deps src \
 && mkdir -p build/Release \
 && mv /tmp/better_sqlite3.node build/Release/
COPY tsconfig.json ./
COPY bin/ ./bin/
COPY src/ ./src/

# ---- runtime --------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
WORKDIR /app
# Owned by root and read-only to the service user: the process cannot rewrite its own code.
# (tsx keeps its transform cache in the OS temp dir, not here.)
COPY --from=build /app ./
# The embedded mode's data dir (events.db and the generated secret); mode 0700 as the service
# itself creates it. A new named volume takes this owner and mode from the image.
RUN mkdir -p /data && chown node:node /data && chmod 700 /data
ENV HOST=0.0.0.0 \
    PORT=8102 \
    AUTHLOG_DATA_DIR=/data
USER node
VOLUME ["/data"]
EXPOSE 8102
# Liveness only (/ready also checks the backends). The slim image has no curl: use Node's fetch.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8102) + '/health', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself; `authlog serve` shuts down cleanly on it.
CMD ["node", "bin/authlog.mjs", "serve"]
