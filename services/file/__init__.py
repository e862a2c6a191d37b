"""File service (port 8083, task queue ``adx-file``): file metadata, shares, blobs."""
