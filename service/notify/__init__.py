"""Notifications to staff outside the UI (e-mail)."""
