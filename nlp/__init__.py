"""Understanding inbound messages: commenter type, sentiment, language, and relationship stage."""
