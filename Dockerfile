# syntax=docker/dockerfile:1
# Outpost: one static binary, no shell, non-root.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# This exact line is run by cmd/outpost's TestDockerfileBuildLine.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/outpost ./cmd/outpost
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
# distroless/static carries CA certificates and /etc/passwd for nonroot.
COPY --from=build /out/outpost /usr/local/bin/outpost
COPY config.yaml /etc/outpost/config.yaml
# The data folder belongs to nonroot (uid 65532), so the volume is writable.
COPY --from=build --chown=65532:65532 /out/data /var/lib/outpost
# The operators' port (9090: /metrics, /api/v1/health) is for your monitoring
# network only: do not publish it.
ENV OUTPOST_LISTEN=0.0.0.0:8080 OUTPOST_DATA=/var/lib/outpost/outpost.db OUTPOST_OPERATORS_LISTEN=0.0.0.0:9090
USER nonroot:nonroot
VOLUME ["/var/lib/outpost"]
EXPOSE 8080
# No shell in the image: the binary checks its own /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/outpost", "healthcheck", "-config", "/etc/outpost/config.yaml"]
ENTRYPOINT ["/usr/local/bin/outpost"]
CMD ["serve", "-config", "/etc/outpost/config.yaml"]
