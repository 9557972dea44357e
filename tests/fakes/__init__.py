"""Local fake platform servers (Telegram Bot API, LINE Messaging API) and webhook payloads."""
