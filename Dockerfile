# prober agent image: Debian's Python, Chromium headless shell and CJK fonts, run as non-root under tini.
FROM python:3.11-slim-bookworm

# Same system packages as .ci/setup (minus the benchmark's blackbox_exporter). Versions come from Debian's
# stable repository, which only ships security fixes, so they are not pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium-headless-shell fonts-wqy-zenhei tini \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY prober ./prober
RUN pip install --no-cache-dir . && rm -rf /src

COPY agent.yaml /etc/prober/agent.yaml
COPY checks /etc/prober/checks

# journey artifacts go to agent.yaml's folder by default: the one place the agent writes (mount a volume here
# when the root filesystem is read-only); Chromium writes its profile under $HOME
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin prober \
    && mkdir -p /etc/prober/artifacts && chown 10001:10001 /etc/prober/artifacts
ENV HOME=/tmp
USER 10001
WORKDIR /etc/prober
EXPOSE 9470

HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9470/healthz', timeout=3)"]

ENTRYPOINT ["/usr/bin/tini", "--", "prober", "run"]
CMD ["--config", "/etc/prober/agent.yaml", "--listen", "0.0.0.0:9470"]
