# Berth's daemon image. The base is an argument: the official Node.js 20 image by default, or a
# local one where nothing can be pulled (npm run image makes berth-base:local from the host).
#   docker run -d --name berth -p 127.0.0.1:9464:9464 \
#     -v /var/run/docker.sock:/var/run/docker.sock --group-add "$(stat -c %g /var/run/docker.sock)" \
#     -v "$PWD/manifests:/manifests:ro" -v berth-data:/data berth:dev
ARG BASE=node:20-bookworm-slim

FROM ${BASE} AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc build.mjs ./
# A context that brings node_modules (npm run image) builds offline; otherwise they are installed here.
COPY node_modules ./node_modules
RUN [ -d node_modules/esbuild ] || npm ci --no-audit --no-fund
COPY src ./src
COPY controllers ./controllers
RUN node build.mjs \
 && npm prune --omit=dev --offline --no-audit --no-fund

FROM ${BASE}
ARG VERSION=dev
LABEL org.opencontainers.image.title="berth" \
      org.opencontainers.image.description="GitOps reconciler for plain Docker hosts" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
ENV NODE_ENV=production
WORKDIR /opt/berth
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY crds ./crds
COPY src/store/migrations ./src/store/migrations
# The official image brings git and ssh through apt; the local base already has them.
RUN command -v git >/dev/null && command -v ssh >/dev/null || (apt-get update && apt-get install -y --no-install-recommends git openssh-client && rm -rf /var/lib/apt/lists/*)
RUN mkdir -p /data && chown 1000:1000 /data
USER 1000:1000
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s CMD ["node", "-e", "fetch(process.env.BERTH_HEALTH_URL || 'http://127.0.0.1:9464/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/opt/berth/bin/berth.js"]
CMD ["run", "/manifests", "--db", "file:/data/berth.db", "--listen", "0.0.0.0:9464", "--insecure-listen"]
