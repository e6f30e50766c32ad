"""Run Stitch's tap-quickbooks (installed, unmodified) against the local sandbox.

Runs inside the tap's own virtual environment. The tap keeps its hosts in module
constants, read when a request is made: this wrapper points them at the sandbox, then
hands over to the tap's own entry point with the remaining arguments.
usage: python stitch_run.py BASE_URL TOKEN_URL -- <tap arguments>
"""

import sys

import tap_quickbooks
from tap_quickbooks import client

base_url, token_url = sys.argv[1], sys.argv[2]
client.PROD_ENDPOINT_BASE = base_url
client.SANDBOX_ENDPOINT_BASE = base_url
client.TOKEN_REFRESH_URL = token_url
sys.argv = ["tap-quickbooks", *sys.argv[4:]]
tap_quickbooks.main()
