"""People's review: the queue, decisions on drafts, staff cards, notices, proposals, names."""
