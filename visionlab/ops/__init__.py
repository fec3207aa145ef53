"""Small pure functions used by the pipelines and worth reading on their own."""
