"""証拠記録: what a comment was, who wrote it and what the council did, frozen when staff delete, hide or
escalate it (`records.freeze`), kept for SHAKYO_EVIDENCE_RETENTION_DAYS past the comment's own retention."""
