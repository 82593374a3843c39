# syntax=docker/dockerfile:1
# spot-fargate-orchestrator: one image for both processes (`webhook` and `watcher`).
# Node 24 runs the TypeScript sources directly (type stripping), so there is no build step: the first stage
# installs the production dependencies, the second copies them next to the sources.

ARG NODE_IMAGE=node:24.21.0-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# Production dependencies only (the `node` devDependency and the test tooling stay out), no install scripts.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

FROM ${NODE_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="spot-fargate-orchestrator" \
      org.opencontainers.image.description="Moves EKS workloads from EC2 Spot to AWS Fargate ahead of interruptions, and back" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"

# npm and corepack are not needed at run time: remove them (and their CVEs). `spot-orchestrator` on PATH is
# for `kubectl exec ... -- spot-orchestrator status`.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
 && printf '#!/bin/sh\nexec node /app/cli/main.ts "$@"\n' > /usr/local/bin/spot-orchestrator \
 && chmod 0755 /usr/local/bin/spot-orchestrator

WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY core ./core
COPY webhook ./webhook
COPY watcher ./watcher
COPY cli ./cli

# The distroless "nonroot" user; the chart runs the pod as this uid with a read-only root filesystem and
# an emptyDir at /tmp, the only place the processes write to.
USER 65532:65532
EXPOSE 9443 8080 8081
ENTRYPOINT ["node", "/app/cli/main.ts"]
