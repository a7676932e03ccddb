# iotbuf: one image, every process (`iotbuf broker`, `iotbuf worker`, `iotbuf store`, `iotbuf start`).
# Build stage compiles TypeScript with the dev dependencies; the runtime stage keeps only dist/,
# bin/ and production node_modules, and runs as the unprivileged `node` user of the base image.

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
# --ignore-scripts: `prepare` would compile before the sources are copied
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY bin ./bin
COPY shared ./shared
COPY services ./services
COPY bench ./bench
RUN npx tsc -p tsconfig.json && npm prune --omit=dev --no-audit --no-fund

FROM node:20-slim AS runtime
ENV NODE_ENV=production \
    IOTBUF_LOG_FORMAT=json \
    IOTBUF_MQTT_HOST=0.0.0.0 \
    IOTBUF_METRICS_HOST=0.0.0.0 \
    IOTBUF_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
# MQTT, MQTT over TLS, broker and worker metrics, the bundled store
EXPOSE 1883 8883 9464 9465 6379
ENTRYPOINT ["node", "bin/iotbuf.js"]
CMD ["start"]
