# mcp-oauth in a container. Not built in this project's CI (no container runtime there): see
# docs/deployment.md. Build: docker build -t mcp-oauth .
#
# Run: docker run -p 8080:8080 -v mcp-oauth-data:/data -e MCP_OAUTH_ISSUER=https://auth.example.com mcp-oauth
# Several instances: add -e MCP_OAUTH_DATABASE=postgres://… -e MCP_OAUTH_KEK=… (the same on all).

FROM rust:1.94-bookworm AS build
# aws-lc-rs builds its C library with cmake and clang.
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake clang \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p mcp-oauth \
 && install -m 0755 target/release/mcp-oauth /usr/local/bin/mcp-oauth

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin mcp-oauth \
 && mkdir -p /data && chown mcp-oauth:mcp-oauth /data && chmod 0700 /data
COPY --from=build /usr/local/bin/mcp-oauth /usr/local/bin/mcp-oauth
USER mcp-oauth
ENV MCP_OAUTH_DATA_DIR=/data \
    MCP_OAUTH_ADDR=0.0.0.0:8080 \
    MCP_OAUTH_LOG=info,sqlx=warn
VOLUME ["/data"]
EXPOSE 8080
# Ready = the database answers (503 otherwise).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
# SIGTERM stops it gracefully.
STOPSIGNAL SIGTERM
ENTRYPOINT ["mcp-oauth"]
CMD ["serve"]
