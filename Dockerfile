# syntax=docker/dockerfile:1
# forecastscale run, as deployed by deploy/ (README "Deploy"):  docker build -t forecastscale:0.1.0 .

# --- builder: build the wheel and install it with its dependencies into a virtualenv ---------------
FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY forecastscale ./forecastscale
RUN pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/forecastscale \
 && /opt/forecastscale/bin/pip install /wheels/*.whl

# --- final: the virtualenv only; no compilers, no sources, no wheel cache ---------------------------
FROM python:3.11-slim
# Read-only root filesystem: everything a library may write (matplotlib's cache, ~) goes to /tmp,
# an emptyDir in the Deployment; no .pyc files are written at run time (pip compiled them).
ENV PATH=/opt/forecastscale/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib \
    XDG_CACHE_HOME=/tmp/.cache
RUN groupadd --gid 10001 forecastscale \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin forecastscale
COPY --from=builder /opt/forecastscale /opt/forecastscale
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["forecastscale", "run"]
