# Settle: a multi-stage build. The build stage compiles the one binary; the runtime image is distroless (glibc, CA
# certificates, no shell, no package manager) and runs as a non-root user. SQLite is compiled in; PostgreSQL, MySQL,
# Redis and NATS are reached over the network.
#
#   docker build --build-arg SETTLE_GIT_COMMIT="$(git rev-parse --short=12 HEAD)" -t settle .
#   docker run -p 3000:3000 settle serve --demo

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
ARG SETTLE_GIT_COMMIT=unknown
ENV SETTLE_GIT_COMMIT=${SETTLE_GIT_COMMIT}
COPY . .
RUN cargo build --release --locked -p settle --bin settle \
    && install -D -m 0755 target/release/settle /out/settle

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/settle /usr/local/bin/settle
# The working directory holds the default SQLite database (settle.db) and `serve --demo`'s settle.key: mount a
# volume here to keep them.
WORKDIR /home/nonroot
# distroless's nonroot user.
USER 65532:65532
ENV SETTLE_LISTEN=0.0.0.0:3000 \
    SETTLE_LOG_FORMAT=json
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=4s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/settle", "healthcheck", "--url", "http://127.0.0.1:3000/health/live"]
ENTRYPOINT ["/usr/local/bin/settle"]
CMD ["serve"]
