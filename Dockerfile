# Build stage: compile TypeScript.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
COPY simulators ./simulators
RUN npm run build && npm prune --omit=dev

# Runtime stage: only the compiled code and production dependencies, as an unprivileged user.
FROM node:20-bookworm-slim
# A heap sized for the service, not for the host: with Node's default (a share of the host's
# memory) V8 lets garbage pile up and the RSS doubles at the same load and CPU (README, Memory).
# The live heap is ~80 MB at 100,000 twins; raise this with the container's memory for more.
ENV NODE_ENV=production PORT=8080 NODE_OPTIONS=--max-old-space-size=512
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The dashboard's static files are not compiled; they are looked up beside the compiled module.
COPY --from=build /app/src/realtime/public ./dist/src/realtime/public
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=5 CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
CMD ["node", "dist/src/main.js"]
