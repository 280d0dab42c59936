"""Managers keep the state of tasks: TaskManager (the queue), EcologyManager (health), MetaHandler (event log)."""
