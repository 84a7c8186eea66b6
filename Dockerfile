# nps-sync daemon image: `docker build -t nps-sync .`, then see deploy/compose/compose.yaml.
# Installs exactly the versions in constraints.txt into a virtual environment, runs as a
# non-root user, logs JSON on stderr, and listens for webhooks, /healthz, /readyz and /metrics
# on port 8080. The config and rules are mounted at /etc/nps-sync; secrets come as environment
# variables ({env: NAME} in the config) or files ({file: /run/secrets/NAME}).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md LICENSE ./
COPY connectors ./connectors
COPY emulators ./emulators
COPY rules ./rules
COPY sync ./sync
RUN python -m venv /opt/nps-sync \
    && /opt/nps-sync/bin/pip install --no-cache-dir --upgrade pip \
    && /opt/nps-sync/bin/pip install --no-cache-dir -c constraints.txt .

FROM python:3.11-slim
RUN groupadd --system --gid 10001 nps-sync \
    && useradd --system --uid 10001 --gid nps-sync --home-dir /var/lib/nps-sync --create-home \
       --shell /usr/sbin/nologin nps-sync
COPY --from=build /opt/nps-sync /opt/nps-sync
COPY rules/examples /usr/share/nps-sync/rules
ENV PATH=/opt/nps-sync/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NPS_SYNC_LOG_FORMAT=json
USER 10001:10001
WORKDIR /var/lib/nps-sync
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=4)"]
ENTRYPOINT ["nps-sync"]
CMD ["run", "--config", "/etc/nps-sync/nps-sync.yaml", "--listen", "0.0.0.0:8080"]
