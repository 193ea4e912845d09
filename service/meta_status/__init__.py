"""The Meta connection as staff see it: the last check of tokens and subscriptions, when webhooks last
arrived, warnings before a token lapses, and the periodic re-check.

`webhooks.connect` speaks to the Graph API; this package stores its reports in Redis
(`{shakyo}:meta:status`), presents them (`overview`), warns (`lapse`) and schedules the check (`monitor`).
"""
