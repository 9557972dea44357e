"""People's review: the queue, decisions on drafts, staff chat cards, notices, proposals."""
