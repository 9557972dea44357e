"""Reply drafting: playbooks (data files) turn a classified message into candidate replies."""
