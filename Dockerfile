# bitget-bot container: the compiled single binary on a minimal glibc base.
# Build:  docker build -t bitget-bot .
# Run:    docker run -d --name bitget-collect -v $PWD/data:/var/lib/bitget-bot/data \
#           --env-file .env bitget-bot collect --symbols BTCUSDT ETHUSDT
# Multi-arch: docker buildx build --platform linux/amd64,linux/arm64 -t bitget-bot .
FROM denoland/deno:debian-2.9.6 AS build
ARG TARGETARCH
WORKDIR /src
COPY deno.json deno.lock ./
COPY src ./src
COPY sample ./sample
COPY config.yaml ./
RUN deno install --frozen --entrypoint src/main.ts
RUN if [ "$TARGETARCH" = "arm64" ]; then deno task compile:linux-arm64 && cp dist/bitget-bot-linux-arm64 /bitget-bot; \
    else deno task compile:linux-x64 && cp dist/bitget-bot-linux-x64 /bitget-bot; fi

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /bitget-bot /opt/bitget-bot/bitget-bot
COPY --from=build --chown=nonroot:nonroot /src/config.yaml /var/lib/bitget-bot/config.yaml
WORKDIR /var/lib/bitget-bot
# The binary's baked permissions are relative to this working directory (data/, models/, …).
VOLUME ["/var/lib/bitget-bot/data", "/var/lib/bitget-bot/models"]
USER nonroot
ENTRYPOINT ["/opt/bitget-bot/bitget-bot"]
CMD ["collect", "--config", "config.yaml"]
