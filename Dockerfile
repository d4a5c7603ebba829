# The bridge: a static binary (no cgo) alone in a distroless image, run as a
# non-root user. compose.yaml builds it; cmd/bridge/dockerfile_test.go checks
# it without a Docker engine, and runs its `go build` to check that the
# binary is static.
#
#   docker build --build-arg VERSION="$(git describe --tags --always --dirty)" -t crm-bridge .

# The Go version of go.mod's go directive (the test checks it).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/bridge ./cmd/bridge

# CA certificates, time zone data, an /etc/passwd with nonroot (65532), and
# no shell: nothing can RUN here.
FROM gcr.io/distroless/static-debian13:nonroot
COPY --from=build /out/bridge /usr/local/bin/bridge
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# Reachable from outside the container; the bridge's default, 127.0.0.1:8080, is not.
ENV BRIDGE_HTTP_ADDR=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/bridge"]
CMD ["run"]
