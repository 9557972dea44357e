"""The web app: webhooks, web chat, console routes, security, middleware, templates."""
