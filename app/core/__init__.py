"""The ground floor: the types every layer shares, pure and free of I/O."""
