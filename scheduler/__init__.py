"""APScheduler jobs and the background workers: delivery, SLA, theme day."""
