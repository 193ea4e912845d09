"""Author history (投稿者の履歴): one author's flagged comments, bulk hiding of the open ones, Page blocking."""
