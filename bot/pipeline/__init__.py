"""The pipeline: inbound events stored, classified, drafted and handed to review."""
