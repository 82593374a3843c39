# syntax=docker/dockerfile:1
# spot-fargate-orchestrator: one image for both processes (`webhook` and `watcher`) and the CLI.
# Node 24 runs the TypeScript sources directly (type stripping), so there is no compile step: the first stage
# installs the production dependencies and removes what Node never loads; the second is a distroless Node.js
# image (glibc, CA certificates, tzdata and node; no shell, no package manager) running as uid 65532.

# The runtime base is pinned by digest (the tag stays for readers): distroless publishes no versioned tags,
# and `nonroot` moves with every rebuild. To take a newer one, put the tag's current digest here
# (`crane digest gcr.io/distroless/nodejs24-debian12:nonroot`, or `skopeo inspect --format '{{.Digest}}'
# docker://gcr.io/distroless/nodejs24-debian12:nonroot`). The builder's tag names its Node.js version.
# What scanners report here and is a choice (the README's "What the scanners say"):
#checkov:skip=CKV_DOCKER_2:Kubernetes probes both processes on their health ports; a HEALTHCHECK would need a shell or a client in a distroless image, and the kubelet ignores it
#checkov:skip=CKV_DOCKER_7:the base images come as ARGs, whose defaults are a versioned tag and a digest; the check reads `FROM ${BUILDER_IMAGE}` as an untagged image
ARG BUILDER_IMAGE=node:24.21.0-bookworm-slim
ARG NODE_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot@sha256:14d42e2511532589a7c7e01a753667a74fcc96266e137e8125006b87b0c32d0a

FROM ${BUILDER_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# Production dependencies only (the `node` devDependency and the test tooling stay out), no install scripts.
# Optional ones are left out too: npm would otherwise install a devDependency that a production package names as
# an optional peer (TypeScript, for valibot; npm/cli#7740).
# Behind a TLS-inspecting proxy, pass its CA bundle as the optional build secret `npm-ca`
# (`--secret id=npm-ca,src=/path/to/ca.crt`): npm trusts it for this step, and no layer keeps it.
# Then drop what Node never loads: type declarations, source maps, docs, the AWS SDK's ES-module copies (Node
# resolves its CommonJS build) and valibot's CommonJS and minified copies (Node resolves its ES module).
# `spot-orchestrator` is a Node script with a shebang because the runtime image has no shell.
RUN --mount=type=secret,id=npm-ca,required=false \
    if [ -s /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi \
 && npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force \
 && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \
      -o -iname '*.md' -o -path 'node_modules/valibot/dist/index.*cjs' \
      -o -path 'node_modules/valibot/dist/index.min.mjs' \) -delete \
 && find node_modules -depth -type d \( -name '@types' \
      -o \( \( -path '*/@aws-sdk/*' -o -path '*/@smithy/*' \) \( -name dist-es -o -name dist-types \) \) \) \
      -exec rm -rf {} + \
 && printf '#!/nodejs/bin/node\nimport("/app/cli/main.ts");\n' > spot-orchestrator \
 && chmod 0755 spot-orchestrator \
 && mkdir compile-cache

FROM ${NODE_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="spot-fargate-orchestrator" \
      org.opencontainers.image.description="Moves EKS workloads from EC2 Spot to AWS Fargate ahead of interruptions, and back" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"

WORKDIR /app
ENV NODE_ENV=production
# Measured by the benchmarks, which start the processes with these same lines (bench/imageRuntime.ts): a young
# generation of 2 × 4 MiB instead of V8's 2 × 32 MiB keeps resident memory about 25 MiB lower under load at no
# cost in CPU per admission request; glibc's malloc giving freed memory back sooner, another 15 MiB; Node's
# compile cache, filled below, spares every start compiling the TypeScript sources (20 MiB and a second).
ENV NODE_OPTIONS="--max-semi-space-size=4"
ENV MALLOC_MMAP_THRESHOLD_=32768
ENV MALLOC_TRIM_THRESHOLD_=65536
ENV NODE_COMPILE_CACHE=/app/.compile-cache
COPY --from=deps /app/node_modules ./node_modules
# `kubectl exec <pod> -c watcher -- spot-orchestrator status`
COPY --from=deps /app/spot-orchestrator /usr/local/bin/spot-orchestrator
COPY package.json ./
COPY core ./core
COPY webhook ./webhook
COPY watcher ./watcher
COPY cli ./cli
COPY --from=deps --chown=65532:65532 /app/compile-cache ./.compile-cache

# The distroless "nonroot" user; the chart runs the pod as this uid with a read-only root filesystem and
# an emptyDir at /tmp, the only place the processes write to.
USER 65532:65532
# Fill the compile cache as that user (Node keys it by user): each subcommand's modules, loaded by its --help.
# At run time the cache is only read.
RUN ["/nodejs/bin/node", "-e", "for (const c of ['webhook', 'watcher', 'status', 'drill', 'doctor']) require('node:child_process').execFileSync(process.execPath, ['/app/cli/main.ts', c, '--help'], { stdio: 'ignore' })"]
EXPOSE 9443 8080 8081
ENTRYPOINT ["/nodejs/bin/node", "/app/cli/main.ts"]
