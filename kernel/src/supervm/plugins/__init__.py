"""Plugins: hook specifications, discovery and selection, and the typed registries."""
