"""I/O backends: the only modules that import PIL, pillow_heif or av."""
