# Berth container image.
#   docker build -t berth .
#   docker run -p 5000:5000 -v berth-data:/var/lib/berth berth

FROM rust:1-bookworm AS builder
WORKDIR /src
# sqlx compile-time checked queries (if any) read .sqlx/ metadata instead of a live database.
ENV SQLX_OFFLINE=true
COPY . .
RUN cargo build --release --locked -p berth \
    && install -m 0755 target/release/berth /usr/local/bin/berth

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates git openssh-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 berth \
    && useradd --system --uid 10001 --gid berth --home-dir /var/lib/berth --shell /usr/sbin/nologin berth \
    && mkdir -p /var/lib/berth /var/lib/berth-secrets \
    && chown berth:berth /var/lib/berth /var/lib/berth-secrets
COPY --from=builder /usr/local/bin/berth /usr/local/bin/berth
ENV BERTH_LISTEN=0.0.0.0:5000 \
    BERTH_DATA_DIR=/var/lib/berth
USER berth:berth
WORKDIR /var/lib/berth
VOLUME /var/lib/berth
EXPOSE 5000
ENTRYPOINT ["berth"]
CMD ["serve"]
