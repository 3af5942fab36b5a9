"""Intact's domain layer: editing, compositing, generation workflows and the command line."""
