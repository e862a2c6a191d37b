"""Workflow service (port 8084, task queue ``adx-workflow``): cross-service workflows."""
