"""canids-data."""
