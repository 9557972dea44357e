"""Personal data: export, erasure, retention, and what unsend/edit/unfollow change."""
