FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY services ./services
COPY shared ./shared
COPY bench ./bench
COPY test ./test
RUN npm ci && npm prune --omit=dev
ENV IOTBUF_LOG_FORMAT=json IOTBUF_MQTT_HOST=0.0.0.0 IOTBUF_METRICS_HOST=0.0.0.0
ENTRYPOINT ["node", "bin/iotbuf.js"]
CMD ["start"]
