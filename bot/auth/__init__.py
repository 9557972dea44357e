"""Who may do what: console users' roles and their ranks."""
