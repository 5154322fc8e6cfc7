FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm ci && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY web ./web
# The chat example: docker/switchyard.yaml extends its config, docker/cluster.yaml runs its functions.
COPY examples ./examples
COPY docker/switchyard.yaml docker/cluster.yaml /etc/switchyard/
VOLUME /data
EXPOSE 1883 8080
STOPSIGNAL SIGTERM
CMD ["node", "bin/switchyard.js", "start", "--config", "/etc/switchyard/switchyard.yaml"]
