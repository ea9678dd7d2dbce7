"""Background work (roster syncs now; grade pulls and score passback with the loop): run by
a queue in production, in a small thread pool inside the process in the embedded default."""
