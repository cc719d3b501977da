# The image Smithery builds (smithery.yaml): orq-mcp over Streamable HTTP on $PORT, one orq key per connection.
# Two stages: uv installs the locked dependency set (uv.lock, hashes checked) and the package into a virtual
# environment; the final image holds that environment and no build tools. tests/project/test_packaging.py checks this
# file's structure and runs its install, start and health-check commands (no Docker engine needed).

FROM python:3.12-slim AS build
# uv, pinned as in the test dependency group; from PyPI, like everything else the build fetches.
RUN pip install --no-cache-dir "uv==0.13.9"
WORKDIR /app
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app/.venv
# Dependencies first, in a layer of their own: it is rebuilt only when the lock changes, not the code.
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-install-project --no-editable --no-default-groups
COPY README.md LICENSE ./
COPY orq_mcp ./orq_mcp
# --locked: the build fails if uv.lock no longer matches pyproject.toml; --no-editable: the package is copied
# into the environment, so the final stage needs no source tree.
RUN uv sync --locked --no-editable --no-default-groups

FROM python:3.12-slim
# The same base image, so the environment's interpreter path (/usr/local/bin/python3) is the same.
RUN useradd --system --no-create-home orq
COPY --from=build /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:$PATH" PYTHONDONTWRITEBYTECODE=1 PORT=8081
USER orq
EXPOSE 8081
# /healthz answers without credentials (serving/health.py); the slim image has no curl, so Python asks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['PORT'] + '/healthz', timeout=4)"]
# 0.0.0.0 inside the container is reached only through Smithery's gateway; each caller brings its own key.
CMD ["sh", "-c", "exec orq-mcp --transport http --host 0.0.0.0 --allow-remote --port \"${PORT}\" --query-config"]
