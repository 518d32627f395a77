"""Streaming inference: chunks of (audio, frames) handed out as they are made (see omnitalker.streaming.engine)."""
