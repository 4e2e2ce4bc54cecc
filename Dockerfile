# ЛКК Gateway: one image for the gateway (`lkk serve`), its migrations (`lkk migrate`) and,
# in the demo deployment, the legacy emulators (`lkk emulators`). deploy/compose.yaml runs it.
#
#   docker build -t lkk-gateway .
#
# Slim and non-root: the wheels of every dependency are manylinux builds (lxml, asyncpg,
# argon2, Pillow bring their own libraries), so no compiler reaches the final image.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/lkk
COPY pyproject.toml README.md ./
COPY adapters ./adapters
COPY emulators ./emulators
COPY gateway ./gateway
COPY schema ./schema
# `scale`: asyncpg for PostgreSQL (redis-py is a core dependency)
RUN /opt/lkk/bin/pip install --upgrade pip && /opt/lkk/bin/pip install '.[scale]'

FROM python:3.11-slim
# The billing emulator draws receipts with a Cyrillic TrueType font (demo deployment only).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /app --create-home lkk
COPY --from=build /opt/lkk /opt/lkk
ENV PATH=/opt/lkk/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LKK_ENVIRONMENT=production \
    LKK_HOST=0.0.0.0 \
    LKK_PORT=8000 \
    LKK_DATA_DIR=/app/data \
    LKK_LOG_FORMAT=json
WORKDIR /app
USER lkk
EXPOSE 8000
# Liveness only (/healthz never touches a dependency); the load balancer uses /readyz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('LKK_PORT', '8000') + '/healthz', timeout=2)"]
CMD ["lkk", "serve"]
