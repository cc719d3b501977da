# The image Smithery builds (smithery.yaml): orq-mcp over Streamable HTTP on $PORT, one orq key per connection.
FROM python:3.12-slim
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY orq_mcp ./orq_mcp
RUN pip install --no-cache-dir . && useradd --system --no-create-home orq
USER orq
ENV PORT=8081
EXPOSE 8081
# 0.0.0.0 inside the container is reached only through Smithery's gateway; each caller brings its own key.
CMD ["sh", "-c", "exec orq-mcp --transport http --host 0.0.0.0 --allow-remote --port \"${PORT}\" --query-config"]
