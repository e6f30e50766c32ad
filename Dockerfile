# The Mage AI image of qbo-backfill: mage-ai 0.9.80 and this package in one environment,
# on Python 3.11 (Mage's own image is built on 3.10). The Compose file runs it twice: as
# the Mage server (`mage start mage`) and as the local QBO sandbox.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# git: Mage's version-control pages import GitPython, which needs the executable.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*

# This package with the `mage` extra (mage-ai==0.9.80): one resolution, as CI proves it.
WORKDIR /opt/qbo-backfill
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install ".[mage]" && pip check

# The Mage project; Compose also mounts ./mage here so edits in the UI reach the repository.
WORKDIR /home/src
COPY mage ./mage
ENV MAGE_DATA_DIR=/home/src/mage_data \
    QBO_HOME=/home/src/mage_data/qbo-backfill

EXPOSE 6789 8765
CMD ["mage", "start", "mage"]
