"""cellsched: the reference multi-cell scheduler built on offramp."""
