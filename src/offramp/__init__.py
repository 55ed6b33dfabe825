"""offramp: get Python services off Eventlet."""
