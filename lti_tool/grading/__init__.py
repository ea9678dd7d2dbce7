"""Grades out to the LMS gradebook: the score outbox, the competency columns, posting with
stamps, and where passback stands; `jobs/` runs the loops that drive it."""
