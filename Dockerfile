# flaudit, the audit only: a slim image with flaudit and its runtime dependencies (no torch, no Azure ML SDK,
# no test tools). Build from a checkout of the commit you trust:
#   docker build -t flaudit:local .
#   docker run --rm -v "$PWD:/work" flaudit:local flaudit scan --input snapshot.json --config fl/config.yaml \
#       --format terminal,html,sarif --output out
# Live collection needs a credential inside the container (e.g. -e AZURE_CLIENT_ID -e AZURE_TENANT_ID
# -e AZURE_FEDERATED_TOKEN_FILE with the token file mounted); flaudit only reads.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY flaudit ./flaudit
COPY rules ./rules
COPY reports ./reports
RUN python -m pip wheel --no-cache-dir --disable-pip-version-check -w /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 flaudit
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir --disable-pip-version-check /wheels/*.whl && rm -rf /wheels
USER flaudit
WORKDIR /work
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
CMD ["flaudit", "--help"]
