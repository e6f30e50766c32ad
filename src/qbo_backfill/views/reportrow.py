"""`report_row`: the stored reports' cells (DESIGN.md, "Reports and money"), installed in
the typed-views schema beside the entity views. Its query and columns live with the report
storage (`load/reportview.py`); this adapts them for the installer."""

from __future__ import annotations

from qbo_backfill.load.reportstore import REPORTS, ROWS
from qbo_backfill.load.reportview import (
    REPORT_ROW_COLUMNS,
    REPORT_ROW_KEYS,
    REPORT_ROW_VIEW,
    report_row_select,
)
from qbo_backfill.views.definition import ViewDefinition
from qbo_backfill.views.model import ColumnType

REPORT_ROW = ViewDefinition(
    name=REPORT_ROW_VIEW,
    tables=(REPORTS, ROWS),
    columns=tuple((name, ColumnType(kind)) for name, kind in REPORT_ROW_COLUMNS),
    build=lambda raw, realm: report_row_select(raw.get(REPORTS), raw.get(ROWS), realm),
    keys=REPORT_ROW_KEYS,
)
