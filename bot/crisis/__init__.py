"""Crisis detection and supervisor escalation: signals, incidents, alerts, the crisis playbook."""
