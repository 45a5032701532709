"""`taskmanager bench`: enqueue, drain and idle-latency measurements against a real server."""
