"""The evidence of runs: the data (`model`), read from the ledger in one snapshot (`read`),
validated in SQL (`checks`), and printed as JSON and CSV (`formats`) or HTML (`html`).

The names below are re-exported (`as` spells it out), so `from qbo_backfill import report`
gives the whole public surface.
"""

from qbo_backfill.report.formats import checks_csv as checks_csv
from qbo_backfill.report.formats import chunks_csv as chunks_csv
from qbo_backfill.report.formats import money_csv as money_csv
from qbo_backfill.report.formats import to_json as to_json
from qbo_backfill.report.formats import views_csv as views_csv
from qbo_backfill.report.formats import write_all as write_all
from qbo_backfill.report.model import Check as Check
from qbo_backfill.report.model import CheckStatus as CheckStatus
from qbo_backfill.report.model import RatePoint as RatePoint
from qbo_backfill.report.model import Report as Report
from qbo_backfill.report.model import RunReport as RunReport
from qbo_backfill.report.model import Selection as Selection
from qbo_backfill.report.model import request_rate as request_rate
from qbo_backfill.report.read import build_report as build_report
from qbo_backfill.report.read import load_report as load_report
