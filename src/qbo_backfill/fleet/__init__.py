"""The fleet: many companies copied by many workers, through jobs kept in the destination
PostgreSQL (procrastinate). `enqueue` puts the work in, `worker` runs it, `status` shows it."""

# Companies a `fleet sync` job syncs one after the other (`fleet sync --companies-per-job`):
# an idle company's sync is mostly a job's own overhead, shared this way (docs/webhooks.md).
COMPANIES_PER_SYNC_JOB = 20
