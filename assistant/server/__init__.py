"""The web chat and the HTTP API over the same pipeline: `create_app` builds the FastAPI app."""
