# The operator image: a static manager binary on distroless, run as the distroless non-root user.
# Build: make docker-build IMG=registry.example.com/genai-platform-operator:v0.1.0
FROM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
WORKDIR /workspace
# Modules first: they change less often than the code, so this layer stays cached.
COPY go.mod go.sum ./
RUN go mod download
# .dockerignore admits only what the binary is built from.
COPY . .
# CGO off: a static binary that needs no libc, which distroless/static does not have.
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} go build -trimpath -ldflags "-s -w" -o manager .

FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/manager .
# distroless' nonroot user; the Deployment's runAsNonRoot needs a numeric user to verify.
USER 65532:65532
ENTRYPOINT ["/manager"]
