"""The fleet: many companies copied by many workers, through jobs kept in the destination
PostgreSQL (procrastinate). `enqueue` puts the work in, `worker` runs it, `status` shows it."""
