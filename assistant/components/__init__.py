"""The pipeline's stages, one module each: parse, chunk, embed, store, retrieve."""
