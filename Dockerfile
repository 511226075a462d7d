# soulfra-supervisor in a container (docs/containers.md).
#
#   docker build -t soulfra-supervisor .
#
# BASE is any image with Python 3.11+ and its venv module: python:3.11-slim by default; on a
# machine without a registry, a local one (the tests use a debootstrap'ed Debian root made into
# an image with `docker import`). Wheels put in deploy/wheels/ are used first; with
# --build-arg PIP_NO_INDEX=1 they are the only source (an offline build).
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
ARG PIP_NO_INDEX=
WORKDIR /src
COPY pyproject.toml README.md ./
COPY supervisor ./supervisor
COPY health_checks ./health_checks
COPY recovery_strategies ./recovery_strategies
COPY deploy ./deploy
RUN python3 -m venv /opt/soulfra \
 && PIP_NO_INDEX="${PIP_NO_INDEX}" /opt/soulfra/bin/pip install --no-cache-dir \
      --disable-pip-version-check --find-links /src/deploy/wheels . \
 && /opt/soulfra/bin/pip uninstall -y pip setuptools wheel >/dev/null \
 && find /opt/soulfra -name __pycache__ -prune -exec rm -rf {} + \
 && /opt/soulfra/bin/python -m compileall -q /opt/soulfra >/dev/null

FROM ${BASE}
COPY --from=build /opt/soulfra /opt/soulfra
# The image's own services.json watches the data volume; mount another over it, or let the
# daemon find containers by their labels (SOULFRA_DOCKER_DISCOVERY=true, docs/containers.md).
COPY deploy/docker/services.json /etc/soulfra-supervisor/services.json
# The demo HTTP service, for compose's small platform (deploy/compose.yaml).
COPY scripts/demo_service.py /opt/soulfra/share/demo_service.py
# Not root: uid/gid 10001 own the data volume. To watch containers, give the daemon the Docker
# socket's group (docker run --group-add <gid of /var/run/docker.sock>).
RUN mkdir -p /data && chown 10001:10001 /data
USER 10001:10001
ENV PATH=/opt/soulfra/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOME=/data \
    SOULFRA_CONFIG=/etc/soulfra-supervisor/services.json \
    SOULFRA_DATA_DIR=/data \
    SOULFRA_HOST=0.0.0.0 \
    SOULFRA_PORT=3001 \
    SOULFRA_LOG_FORMAT=json
VOLUME ["/data"]
WORKDIR /data
EXPOSE 3001
# Alive = the API answers: 200, or 503 when the *watched platform* is critical (the daemon is
# fine then and must not be restarted for it). A blocked event loop does not answer in time.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python3", "-m", "supervisor.cli.probe"]
# SIGTERM is a graceful stop (SOULFRA_SHUTDOWN_TIMEOUT, 20 s: keep docker's stop timeout above).
STOPSIGNAL SIGTERM
ENTRYPOINT ["soulfra-supervisor"]
CMD ["run"]
