"""The install and deployment files: wheel, lock, systemd unit, compose, Caddy, Litestream."""
