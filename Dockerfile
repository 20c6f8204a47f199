# One image for every service of the supergraph; `SERVICE` picks which one runs
# (gateway, subgraphs/registration, subgraphs/payment, subgraphs/lecture, subgraphs/dashboard).
# Node.js 24 LTS, pinned by digest (as are docker-compose.yml's images). `npm run images:pin`
# reads each tag's current digest from its registry and rewrites the pins; `-- --check` fails on an
# unpinned image. The machine this project is built on reaches no registry: the digests here were
# recorded on 2026-12-07 from several public pins of these tags that agree, not pulled here.
FROM node:24-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY platform/package.json platform/
COPY schema/package.json schema/
COPY gateway/package.json gateway/
COPY subgraphs/registration/package.json subgraphs/registration/
COPY subgraphs/payment/package.json subgraphs/payment/
COPY subgraphs/lecture/package.json subgraphs/lecture/
COPY subgraphs/dashboard/package.json subgraphs/dashboard/
COPY test-kit/package.json test-kit/
COPY devkit/package.json devkit/
COPY client/package.json client/
COPY identity-provider/package.json identity-provider/
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx tsc -b && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app /app
USER node
ARG SERVICE=gateway
ENV SERVICE=${SERVICE}
# Readiness turns 503 as soon as a graceful shutdown (SIGTERM) begins.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["sh", "-c", "exec node \"$SERVICE/dist/main.js\""]
