# One image for every service of the supergraph; `SERVICE` picks which one runs
# (gateway, subgraphs/registration, subgraphs/payment, subgraphs/lecture, subgraphs/dashboard).
# Node.js 24 LTS. Pin each FROM by digest where you build (node:24-bookworm-slim@sha256:…): the
# machine this project is built on cannot reach a container registry to read the digests.
FROM node:24-bookworm-slim AS build
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
COPY client/package.json client/
COPY identity-provider/package.json identity-provider/
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx tsc -b && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
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
