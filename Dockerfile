# syntax=docker/dockerfile:1
# Static binaries (no cgo, -trimpath) in a distroless, non-root image:
#   docker build -t vbo-gateway .
#   docker run --rm -p 8080:8080 -v $PWD/gateway.yaml:/etc/vbo-gateway/gateway.yaml:ro vbo-gateway
# .ci/run builds the same binaries with the same flags and runs --version on them.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ENV CGO_ENABLED=0
# The version --version prints where the build has no VCS information (docker build --build-arg
# VERSION=$(git describe --tags --always --dirty)).
ARG VERSION=dev
RUN go build -trimpath -ldflags="-s -w -X main.stampedVersion=${VERSION}" -o /out/vbo-gateway ./cmd/vbo-gateway \
 && go build -trimpath -ldflags="-s -w" -o /out/vbo-sim ./cmd/vbo-sim \
 && /out/vbo-gateway --version

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/vbo-gateway /out/vbo-sim /usr/local/bin/
USER nonroot:nonroot
EXPOSE 8080
# Listen on all interfaces inside the container (the config's listen, or this flag).
ENTRYPOINT ["/usr/local/bin/vbo-gateway"]
CMD ["--config", "/etc/vbo-gateway/gateway.yaml", "--listen", "0.0.0.0:8080"]
