"""相談が必要なコメント: the 相談 items, their notifications, replies as the Page/account and reply templates."""
