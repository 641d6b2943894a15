"""canids command-line tools."""
