"""The report endpoints (`GET /v3/company/{realm}/reports/{Name}`): each report family in
its own module, the limits every answer meets (`limits`), and replayed payloads."""
