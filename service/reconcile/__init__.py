"""Reconciliation: reading comments back from Meta so nothing a webhook missed slips through.

`sync.Reconciler` makes one pass (Graph API reads through `webhooks.reading`); `job.SyncJob` runs it every
SHAKYO_SYNC_INTERVAL_MINUTES in the scheduler process, one runner across processes.
"""
