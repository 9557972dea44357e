"""Sending: approved drafts out through their channel, and pushes to staff."""
