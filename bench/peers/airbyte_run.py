"""Run Airbyte's source-quickbooks (installed, unmodified) against the local sandbox.

Runs inside the connector's own virtual environment. The connector is a declarative
manifest whose hosts are written in it: this wrapper reads the installed manifest, swaps
Intuit's hosts for the sandbox's in memory, and launches it through the CDK's own entry
point with the remaining arguments.
usage: python airbyte_run.py BASE_URL TOKEN_URL -- <connector arguments>
"""

import sys
from importlib.resources import files

import yaml
from airbyte_cdk.entrypoint import launch
from airbyte_cdk.sources.declarative.manifest_declarative_source import (
    ManifestDeclarativeSource,
)

base_url, token_url = sys.argv[1], sys.argv[2]
text = (files("source_quickbooks") / "manifest.yaml").read_text()
for host in ("https://sandbox-quickbooks.api.intuit.com", "https://quickbooks.api.intuit.com"):
    text = text.replace(host, base_url)
text = text.replace("https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer", token_url)
launch(ManifestDeclarativeSource(source_config=yaml.safe_load(text)), sys.argv[4:])
