# Container image of vsphere_audit_exporter: the static binary (CGO_ENABLED=0)
# on distroless, run as the non-root user nonroot (65532), with the defaults
# of the .deb/.rpm (packaging/vsphere_audit_exporter.default, the unit's
# `serve $ARGS`). e2e/dockerfile_test.go holds this file to those defaults.
#
#   docker build -t vsphere-audit-exporter \
#     --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg REVISION="$(git rev-parse HEAD)" \
#     --build-arg BRANCH="$(git rev-parse --abbrev-ref HEAD)" \
#     --build-arg BUILD_DATE="$(date -u +%Y%m%d-%H:%M:%S)" \
#     --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" .
#   docker run -d --name vsphere-audit -p 10055:10055 -p 1514:1514/tcp -p 1514:1514/udp \
#     -v vsphere-audit:/var/lib/vsphere_audit_exporter vsphere-audit-exporter
#
# Arguments after the image name replace CMD (the packaged ARGS, which are
# also the built-in defaults) and go to `serve`; other commands:
#   docker run --rm -v vsphere-audit:/var/lib/vsphere_audit_exporter \
#     --entrypoint /bin/vsphere_audit_exporter vsphere-audit-exporter report

# The Go of go.mod.
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The Makefile's LDFLAGS (github.com/prometheus/common/version).
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG BRANCH=unknown
ARG BUILD_DATE=unknown
ARG BUILD_USER=docker
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -o /out/vsphere_audit_exporter \
      -ldflags "-s -w \
        -X github.com/prometheus/common/version.Version=${VERSION} \
        -X github.com/prometheus/common/version.Revision=${REVISION} \
        -X github.com/prometheus/common/version.Branch=${BRANCH} \
        -X github.com/prometheus/common/version.BuildUser=${BUILD_USER} \
        -X github.com/prometheus/common/version.BuildDate=${BUILD_DATE}" \
      ./cmd/vsphere_audit_exporter \
 && /out/vsphere_audit_exporter --version \
 && mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG CREATED=
LABEL org.opencontainers.image.title="vsphere_audit_exporter" \
      org.opencontainers.image.description="Prometheus exporter that audits vSphere administrators: ESXi and vCenter syslog and vCenter events as metrics, alerts and an audit journal" \
      org.opencontainers.image.url="https://github.com/vsphere-audit-exporter/vsphere-audit-exporter" \
      org.opencontainers.image.source="https://github.com/vsphere-audit-exporter/vsphere-audit-exporter" \
      org.opencontainers.image.documentation="https://github.com/vsphere-audit-exporter/vsphere-audit-exporter/blob/main/README.md" \
      org.opencontainers.image.vendor="vsphere-audit-exporter" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=build /out/vsphere_audit_exporter /bin/vsphere_audit_exporter
# The state directory (the unit's StateDirectory): the audit journal and the
# vCenter checkpoints, owned by the user the exporter runs as.
COPY --from=build --chown=65532:65532 /out/state /var/lib/vsphere_audit_exporter
USER 65532:65532
WORKDIR /var/lib/vsphere_audit_exporter
# Metrics and /audit (--web.listen-address); syslog over TCP and UDP
# (--syslog.tcp.listen-address, --syslog.udp.listen-address). TLS syslog is
# off by default: add --syslog.tls.listen-address=:6514 (and its
# certificate) and publish 6514.
EXPOSE 10055/tcp 1514/tcp 1514/udp
VOLUME ["/var/lib/vsphere_audit_exporter"]
ENTRYPOINT ["/bin/vsphere_audit_exporter", "serve"]
CMD ["--journal.path=/var/lib/vsphere_audit_exporter/journal", "--vcenter.state-dir=/var/lib/vsphere_audit_exporter"]
